using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Sockeye.Cli.Handlers;
using Sockeye.Handlers;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Transport;

public class SocketServerTests
{
    [Fact(Timeout = Timeouts.Network)]
    public async Task Binds_port_zero_on_ipv4_and_ipv6_and_reports_the_real_ports()
    {
        var options = new SocketServerOptions();
        options.Listen(IPAddress.Loopback, 0);
        options.Listen(IPAddress.IPv6Loopback, 0);
        await using var server = new SocketServer(options, new EchoHandler());

        Assert.Empty(server.EndPoints);
        await server.StartAsync(TestContext.Current.CancellationToken);

        var endPoints = server.EndPoints.Cast<IPEndPoint>().ToList();
        Assert.Equal([IPAddress.Loopback, IPAddress.IPv6Loopback], endPoints.Select(e => e.Address));
        Assert.All(endPoints, e => Assert.NotEqual(0, e.Port));
        foreach (var endPoint in endPoints)
        {
            using var client = await TestClient.ConnectAsync(endPoint);
            await client.SendAsync("ping");
            Assert.Equal("ping"u8.ToArray(), await client.ReceiveExactlyAsync(4));
        }
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task WaitForShutdownAsync_stops_the_server_gracefully_when_its_token_is_canceled()
    {
        var options = new SocketServerOptions();
        options.Listen(IPAddress.Loopback, 0);
        await using var server = new SocketServer(options, new EchoHandler(new Sockeye.Framing.LineFramer()));
        await server.StartAsync(TestContext.Current.CancellationToken);
        using var client = await TestClient.ConnectAsync(server.EndPoints[0]);
        await client.SendAsync("ping\n");
        Assert.Equal("ping\n"u8.ToArray(), await client.ReceiveExactlyAsync(5));

        using var stop = new CancellationTokenSource();
        var waiting = server.WaitForShutdownAsync(stop.Token);
        Assert.False(waiting.IsCompleted);
        await stop.CancelAsync();

        // Between two messages, the handler ends at once: the client sees the end of the stream, and the server has stopped.
        Assert.Empty(await client.ReceiveToEndAsync());
        await waiting.WaitAsync(TestContext.Current.CancellationToken);
        Assert.Empty(server.Connections);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Localhost_binds_both_loopback_addresses_on_one_port()
    {
        var options = new SocketServerOptions();
        options.ListenLocalhost(0);
        await using var server = new SocketServer(options, new EchoHandler());
        await server.StartAsync(TestContext.Current.CancellationToken);

        var endPoints = server.EndPoints.Cast<IPEndPoint>().ToList();
        Assert.Equal(IPAddress.Loopback, endPoints[0].Address);
        Assert.Equal(Socket.OSSupportsIPv6 ? 2 : 1, endPoints.Count);
        Assert.All(endPoints, e => Assert.Equal(endPoints[0].Port, e.Port));
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task An_address_in_use_fails_start_with_a_typed_exception_naming_it()
    {
        await using var first = await TestServer.StartAsync(new EchoHandler());
        var options = new SocketServerOptions();
        options.Listen(first.EndPoint);
        await using var second = new SocketServer(options, new EchoHandler());

        var error = await Assert.ThrowsAsync<AddressInUseException>(() => second.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains(first.EndPoint.ToString(), error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_failed_start_releases_the_endpoints_it_had_bound()
    {
        await using var occupied = await TestServer.StartAsync(new EchoHandler());
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var free = (IPEndPoint)probe.LocalEndPoint!;
        probe.Dispose();

        var options = new SocketServerOptions();
        options.Listen(free);
        options.Listen(occupied.EndPoint);
        await using var server = new SocketServer(options, new EchoHandler());
        await Assert.ThrowsAsync<AddressInUseException>(() => server.StartAsync(TestContext.Current.CancellationToken));

        using var rebind = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        rebind.Bind(free);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task The_accept_loop_never_waits_for_a_handler()
    {
        var release = new TaskCompletionSource();
        await using var server = await TestServer.StartAsync(async connection =>
        {
            // Ids follow accept order; handlers may start in any order on the thread pool.
            if (connection.Id == 1)
            {
                await release.Task;
                return;
            }

            await new EchoHandler().OnConnectedAsync(connection);
        });

        using var stuck = await server.ConnectAsync();
        await stuck.SendAsync("nobody reads this");
        using var served = await server.ConnectAsync();
        await served.SendAsync("hello");

        Assert.Equal("hello"u8.ToArray(), await served.ReceiveExactlyAsync(5));
        release.SetResult();
    }

    [Fact(Timeout = Timeouts.Load)]
    public async Task Serves_300_concurrent_clients()
    {
        await using var server = await TestServer.StartAsync(new EofEchoHandler(HandlerOutput.Null));

        var clients = Enumerable.Range(0, 300).Select(async i =>
        {
            using var client = await server.ConnectAsync();
            await client.SendAsync($"client {i}<EOF>");
            return await client.ReceiveTextToEndAsync();
        });
        var replies = await Task.WhenAll(clients);

        Assert.Equal(Enumerable.Range(0, 300).Select(i => $"client {i}<EOF>"), replies);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_throwing_handler_ends_only_its_own_connection_and_is_logged()
    {
        var failed = new TaskCompletionSource<Connection>();
        await using var server = await TestServer.StartAsync(async connection =>
        {
            var result = await connection.Transport.Input.ReadAsync();
            if (result.Buffer.FirstSpan.StartsWith("boom"u8))
            {
                failed.SetResult(connection);
                throw new InvalidOperationException("handler bug");
            }

            connection.Transport.Input.AdvanceTo(result.Buffer.Start);
            await new EchoHandler().OnConnectedAsync(connection);
        });
        using var healthy = await server.ConnectAsync();
        await healthy.SendAsync("before");
        Assert.Equal("before"u8.ToArray(), await healthy.ReceiveExactlyAsync(6));

        using var faulty = await server.ConnectAsync();
        await faulty.SendAsync("boom");
        var connection = await failed.Task.WithTestTimeout();
        await connection.WaitClosedAsync();

        await healthy.SendAsync("after");
        Assert.Equal("after"u8.ToArray(), await healthy.ReceiveExactlyAsync(5));
        Assert.Equal(ConnectionEndReason.HandlerError, connection.EndReason);
        var logged = await server.Logs.WaitForAsync(r => r.EventId.Id == 12);
        Assert.Equal(LogLevel.Error, logged.Level);
        Assert.IsType<InvalidOperationException>(logged.Exception);
        await Assert.ThrowsAnyAsync<SocketException>(() => faulty.ReceiveToEndAsync());
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Stop_refuses_new_connections_asks_handlers_to_finish_and_waits_for_them()
    {
        var closeSeen = new TaskCompletionSource();
        var finish = new TaskCompletionSource();
        var server = await TestServer.StartAsync(async connection =>
        {
            await connection.CloseRequested.WhenCanceled();
            closeSeen.SetResult();
            await finish.Task;
            await connection.Transport.Output.WriteAsync("bye"u8.ToArray());
        });
        using var client = await server.ConnectAsync();
        await server.Logs.WaitForAsync(r => r.EventId.Id == 10);

        var stopping = server.Server.StopAsync(TestContext.Current.CancellationToken);
        await closeSeen.Task.WithTestTimeout();

        Assert.False(stopping.IsCompleted);
        await Assert.ThrowsAsync<SocketException>(() => TestClient.ConnectAsync(server.EndPoint));
        finish.SetResult();
        await stopping.WithTestTimeout();
        Assert.Equal("bye", await client.ReceiveTextToEndAsync());
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Stop_aborts_handlers_still_running_after_the_shutdown_timeout()
    {
        var time = new FakeTimeProvider();
        var accepted = new TaskCompletionSource<Connection>();
        var closeSeen = new TaskCompletionSource();
        var server = await TestServer.StartAsync(
            async connection =>
            {
                accepted.SetResult(connection);
                await connection.CloseRequested.WhenCanceled();
                closeSeen.SetResult();
                await connection.ConnectionClosed.WhenCanceled();
            },
            options => options.ShutdownTimeout = TimeSpan.FromSeconds(30),
            time);
        using var client = await server.ConnectAsync();
        var connection = await accepted.Task.WithTestTimeout();

        var stopping = server.Server.StopAsync(TestContext.Current.CancellationToken);
        await closeSeen.Task.WithTestTimeout();
        time.Advance(TimeSpan.FromSeconds(29));
        Assert.False(stopping.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));
        await stopping.WithTestTimeout();

        Assert.Equal(ConnectionEndReason.ServerShutdown, connection.EndReason);
        Assert.Equal(LogLevel.Warning, (await server.Logs.WaitForAsync(r => r.EventId.Id == 5)).Level);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Stop_with_a_canceled_token_aborts_at_once()
    {
        var accepted = new TaskCompletionSource<Connection>();
        var server = await TestServer.StartAsync(async connection =>
        {
            accepted.SetResult(connection);
            await connection.ConnectionClosed.WhenCanceled();
        });
        using var client = await server.ConnectAsync();
        var connection = await accepted.Task.WithTestTimeout();

        await server.Server.StopAsync(new CancellationToken(canceled: true)).WithTestTimeout();

        Assert.Equal(ConnectionEndReason.ServerShutdown, connection.EndReason);
    }
}
