using System.Net.Sockets;
using Sockeye.Handlers;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Transport;

/// <summary>
/// TCP's urgent data (a client's send with <c>MSG_OOB</c>, as telnet's interrupt): no byte of it is lost, and none waits.
/// </summary>
public class UrgentDataTests
{
    [Fact(Timeout = Timeouts.Network)]
    public async Task An_urgent_byte_stays_in_the_stream_where_the_client_sent_it()
    {
        await using var server = await TestServer.StartAsync(new EchoHandler());
        using var client = await server.ConnectAsync();

        await client.SendAsync("ab");
        await client.Socket.SendAsync("X"u8.ToArray(), SocketFlags.OutOfBand, TestContext.Current.CancellationToken);
        await client.SendAsync("cd");
        client.HalfClose();

        // Without the option on the listener, the kernel takes the X out of the stream and no handler ever sees it.
        Assert.Equal("abXcd", await client.ReceiveTextToEndAsync());
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Bytes_before_an_urgent_byte_in_one_arrival_do_not_leave_it_waiting_for_the_next()
    {
        await using var server = await TestServer.StartAsync(new EchoHandler());
        using var client = await server.ConnectAsync();

        // One segment whose last byte is urgent: a recv stops short before it, which is not an empty socket. Nothing
        // else is sent, so if the server took the short read for one, the X would wait for ever.
        await client.Socket.SendAsync("abX"u8.ToArray(), SocketFlags.OutOfBand, TestContext.Current.CancellationToken);
        var echoed = client.ReceiveExactlyAsync(3);

        Assert.True(await Task.WhenAny(echoed, Task.Delay(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken)) == echoed,
            "the urgent byte was not echoed within 10 s");
        Assert.Equal("abX"u8.ToArray(), await echoed);
    }
}
