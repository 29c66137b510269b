using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Sockeye.Client;
using Sockeye.Framing;
using Sockeye.Handlers;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Client;

public class SocketClientTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact(Timeout = Timeouts.Network)]
    public async Task Sends_and_receives_framed_messages_on_one_connection()
    {
        await using var server = await TestServer.StartAsync(new EchoHandler(new LengthPrefixFramer()));
        await using var client = await SocketClient.ConnectAsync(server.EndPoint, new SocketClientOptions { Framer = new LengthPrefixFramer() }, Token);

        foreach (var text in new[] { "one", string.Empty, "three" })
        {
            await client.SendAsync(Encoding.UTF8.GetBytes(text), Token);
            Assert.Equal(text, Encoding.UTF8.GetString((await client.ReceiveAsync(Token))!));
        }

        Assert.Equal(server.EndPoint, client.RemoteEndPoint);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Half_close_ends_the_servers_input_and_the_reply_still_arrives()
    {
        // Unframed, the server's echo ends only when the client ends its side; the reply is all it sent until it closed.
        await using var server = await TestServer.StartAsync(new EchoHandler());
        await using var client = await SocketClient.ConnectAsync(server.EndPoint, cancellationToken: Token);

        await client.SendAsync("hello, "u8.ToArray(), Token);
        await client.SendAsync("world"u8.ToArray(), Token);
        await client.CompleteSendingAsync(Token);

        Assert.Equal("hello, world", Encoding.UTF8.GetString((await client.ReceiveAsync(Token))!));
        Assert.Null(await client.ReceiveAsync(Token));
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Receive_returns_null_when_the_server_closes_between_messages()
    {
        await using var server = await TestServer.StartAsync(async connection =>
            await connection.WriteMessageAsync(new LineFramer(), "bye"u8.ToArray()));
        await using var client = await SocketClient.ConnectAsync(server.EndPoint, new SocketClientOptions { Framer = new LineFramer() }, Token);

        Assert.Equal("bye", Encoding.UTF8.GetString((await client.ReceiveAsync(Token))!));
        Assert.Null(await client.ReceiveAsync(Token));
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_reply_over_the_maximum_is_a_protocol_error()
    {
        await using var server = await TestServer.StartAsync(async connection =>
            await connection.Transport.Output.WriteAsync(new byte[100]));
        await using var client = await SocketClient.ConnectAsync(server.EndPoint, new SocketClientOptions { MaxMessageSize = 64 }, Token);

        var error = await Assert.ThrowsAsync<ProtocolException>(async () => await client.ReceiveAsync(Token));

        Assert.Equal(ConnectionEndReason.MessageTooLarge, error.EndReason);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_host_name_is_resolved()
    {
        await using var server = await TestServer.StartAsync(new EchoHandler());
        await using var client = await SocketClient.ConnectAsync(new DnsEndPoint("localhost", server.EndPoint.Port), cancellationToken: Token);

        Assert.Equal(IPAddress.Loopback, ((IPEndPoint)client.RemoteEndPoint!).Address);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Each_address_is_tried_in_turn_until_one_accepts()
    {
        // The server listens on 127.0.0.1 only: 127.0.0.2 (loopback too) refuses, and the next address is tried.
        await using var server = await TestServer.StartAsync(new EchoHandler());

        using var socket = await SocketConnector.ConnectAnyAsync([IPAddress.Parse("127.0.0.2"), IPAddress.Loopback], server.EndPoint.Port, Token);

        Assert.Equal(server.EndPoint, socket.RemoteEndPoint);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_refused_connection_is_the_last_addresses_socket_error()
    {
        var port = FreePort();

        var error = await Assert.ThrowsAsync<SocketException>(() => SocketClient.ConnectAsync(new DnsEndPoint("127.0.0.1", port), cancellationToken: Token));

        Assert.Equal(SocketError.ConnectionRefused, error.SocketErrorCode);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task An_unknown_host_is_a_socket_error()
    {
        var error = await Assert.ThrowsAsync<SocketException>(() => SocketClient.ConnectAsync(new DnsEndPoint("no-such-host.invalid", 11000), cancellationToken: Token));

        Assert.Equal(SocketError.HostNotFound, error.SocketErrorCode);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Connecting_past_the_timeout_is_a_timeout_error()
    {
        using var listener = await UnacceptingListener.StartAsync();
        var clock = new FakeTimeProvider();
        // Longer than the test may run: only the fake clock can make it fire in time.
        var options = new SocketClientOptions { ConnectTimeout = TimeSpan.FromSeconds(100), TimeProvider = clock };

        var connecting = SocketClient.ConnectAsync(listener.EndPoint, options, Token);
        clock.Advance(TimeSpan.FromSeconds(99));
        Assert.False(connecting.IsCompleted);
        clock.Advance(TimeSpan.FromSeconds(1));

        var error = await Assert.ThrowsAsync<TimeoutException>(() => connecting.WithTestTimeout());
        Assert.Contains("100 s", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Connects_over_a_unix_domain_socket()
    {
        var path = Path.Combine(Path.GetTempPath(), $"sockeye-{Guid.NewGuid():N}.sock");
        try
        {
            await using var server = await TestServer.StartAsync(
                new EchoHandler(new LineFramer()),
                options => options.Listen(new UnixDomainSocketEndPoint(path)));
            await using var client = await SocketClient.ConnectAsync(new UnixDomainSocketEndPoint(path), new SocketClientOptions { Framer = new LineFramer() }, Token);

            await client.SendAsync("over unix"u8.ToArray(), Token);

            Assert.Equal("over unix", Encoding.UTF8.GetString((await client.ReceiveAsync(Token))!));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Disposing_twice_is_harmless_and_using_it_afterwards_is_refused()
    {
        await using var server = await TestServer.StartAsync(new EchoHandler());
        var client = await SocketClient.ConnectAsync(server.EndPoint, cancellationToken: Token);

        await client.DisposeAsync();
        await client.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await client.SendAsync("x"u8.ToArray(), Token));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await client.ReceiveAsync(Token));
    }

    private static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
