using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.Time.Testing;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Robustness;

/// <summary>
/// The close linger: after its last reply the server shuts down its sending side and keeps reading (and dropping)
/// what the client still sends until the client ends its side, so that no unread byte makes the kernel answer with a
/// reset, which would destroy the reply the client has not read yet (issue 17, item 5: guarded by one test only).
/// </summary>
public class LingerTests
{
    [Fact(Timeout = Timeouts.Network)]
    public async Task The_server_keeps_draining_a_client_that_still_sends_until_it_ends_its_side_and_the_reply_arrives_whole()
    {
        var time = new FakeTimeProvider();
        var reply = RandomNumberGenerator.GetBytes(32 * 1024);
        var handled = new TaskCompletionSource<Connection>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(
            async connection =>
            {
                var request = await connection.Transport.Input.ReadAtLeastAsync(7);
                connection.Transport.Input.AdvanceTo(request.Buffer.GetPosition(7));
                await connection.Transport.Output.WriteAsync(reply);
                handled.SetResult(connection);
            },
            o => o.LingerTimeout = TimeSpan.FromSeconds(2),
            time);
        using var client = await server.ConnectAsync();
        await client.SendAsync("request");
        var connection = await Guard.ExpectAsync(handled.Task, "the handler did not answer the request");
        var closed = connection.ConnectionClosed.WhenCanceled();

        // The client does not read yet, and goes on sending, as a pipelining client does. Each burst must be read
        // (and dropped) by the server: a server that closed instead would answer it with a reset.
        var sent = 7L;
        for (var burst = 0; burst < 4; burst++)
        {
            await client.SendAsync(new byte[16 * 1024]);
            sent += 16 * 1024;
            var drained = Guard.UntilAsync(() => connection.BytesReceived == sent);
            await Guard.ExpectAsync(
                Task.WhenAny(drained, closed).Unwrap(),
                $"Linger: the server neither read burst {burst + 1} nor closed");
            Assert.False(
                closed.IsCompleted && connection.BytesReceived < sent,
                $"Linger: the server closed with {sent - connection.BytesReceived} bytes of burst {burst + 1} unread, which resets the connection and destroys the reply the client has not read.");
        }

        Assert.False(closed.IsCompleted, "Linger: the server closed while the client was still sending, before it ended its side or the linger timeout passed.");
        client.HalfClose();
        await Guard.ExpectAsync(closed, "Linger: the server did not close once the client ended its side");

        Assert.Equal(reply, await Guard.ExpectAsync(client.ReceiveToEndAsync(), "Linger: the client could not read the reply to its end"));
        Assert.Equal(ConnectionEndReason.ServerClosed, connection.EndReason);
    }

    [Theory(Timeout = Timeouts.Network)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_linger_ends_at_its_timeout_for_a_client_that_never_ends_its_side(bool noOtherTimeouts)
    {
        var time = new FakeTimeProvider();
        var handled = new TaskCompletionSource<Connection>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(
            async connection =>
            {
                await connection.Transport.Output.WriteAsync("bye"u8.ToArray());
                handled.SetResult(connection);
            },
            o =>
            {
                o.LingerTimeout = TimeSpan.FromSeconds(2);
                if (noOtherTimeouts)
                {
                    // The heartbeat that ends the linger must run even when nothing else needs it.
                    o.IdleTimeout = Timeout.InfiniteTimeSpan;
                    o.WriteTimeout = Timeout.InfiniteTimeSpan;
                    o.MinDataRate = 0;
                }
            },
            time);
        using var client = await server.ConnectAsync();
        var connection = await Guard.ExpectAsync(handled.Task, "the handler did not run");
        Assert.Equal("bye"u8.ToArray(), await client.ReceiveExactlyAsync(3));
        var closed = connection.ConnectionClosed.WhenCanceled();

        // The server has shut down its side (the client sees the end of the stream) and lingers, on the fake clock.
        Assert.Equal(0, await client.Socket.ReceiveAsync(new byte[1], SocketFlags.None, TestContext.Current.CancellationToken));
        Assert.False(closed.IsCompleted, "Linger: the server closed at once instead of waiting for the client to end its side.");
        var lingering = time.GetUtcNow();
        while (!closed.IsCompleted)
        {
            if (time.GetUtcNow() - lingering > TimeSpan.FromSeconds(10))
            {
                Assert.Fail("Linger timeout: the server still waits for a client that never ends its side, 10 s into a 2 s linger (fake clock).");
            }

            time.Advance(TimeSpan.FromMilliseconds(500));
            await Task.WhenAny(closed, Task.Delay(20, TestContext.Current.CancellationToken));
        }

        // Never before the timeout (the heartbeat counts whole seconds; the linger must not be cut short by one).
        Assert.True(time.GetUtcNow() - lingering >= TimeSpan.FromSeconds(2), $"The linger ended after {time.GetUtcNow() - lingering} of a 2 s timeout (fake clock).");

        Assert.Equal(ConnectionEndReason.ServerClosed, connection.EndReason);
    }
}
