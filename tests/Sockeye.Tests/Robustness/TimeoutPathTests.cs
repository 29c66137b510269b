using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using Sockeye.Handlers;
using Sockeye.Protocols;
using Sockeye.Tests.Infrastructure;
using Sockeye.Tests.Protocols;

namespace Sockeye.Tests.Robustness;

/// <summary>
/// Every path where the server ends or frees a connection on its own clock, over real sockets on a fake clock, each
/// failing within seconds with a message that names the behaviour when the code breaks (issue 17, item 5). eng/mutate
/// breaks each of these behaviours in turn and checks that a test here fails, on both transports.
/// </summary>
public class TimeoutPathTests
{
    [Fact(Timeout = Timeouts.Network)]
    public async Task Idle_timeout_ends_a_silent_connection_promptly()
    {
        var time = new FakeTimeProvider();
        await using var server = await Start(new EchoHandler(), time, o => o.IdleTimeout = TimeSpan.FromSeconds(10));
        using var client = await server.Server.ConnectAsync();
        var connection = await Guard.ExpectAsync(server.Accepted.Task, "accept: the server did not run the handler for a new connection");

        Beat(time, 11);

        await Guard.EndedAsync(connection, ConnectionEndReason.IdleTimeout, "Idle timeout: no byte either way for 11 s of a 10 s timeout");
        await Guard.ExpectAsync(ReadsEndAsync(client), "Idle timeout: the client was not disconnected");
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Write_timeout_ends_a_client_that_stopped_reading_promptly()
    {
        var time = new FakeTimeProvider();
        var blocked = new TaskCompletionSource();
        await using var server = await Start(
            ConnectionHandler.Create(async connection =>
            {
                var chunk = new byte[64 * 1024];
                while (true)
                {
                    var flushing = connection.Transport.Output.WriteAsync(chunk);
                    if (!flushing.IsCompleted)
                    {
                        blocked.TrySetResult();
                    }

                    if ((await flushing).IsCompleted)
                    {
                        return;
                    }
                }
            }),
            time,
            o => o.WriteTimeout = TimeSpan.FromSeconds(30));
        using var client = await server.Server.ConnectAsync();
        var connection = await Guard.ExpectAsync(server.Accepted.Task, "accept: the server did not run the handler for a new connection");
        await Guard.ExpectAsync(blocked.Task, "Send backpressure: the handler's writes never waited for a client that reads nothing", TimeSpan.FromSeconds(15));

        Beat(time, 32);

        await Guard.EndedAsync(connection, ConnectionEndReason.SlowReader, "Write timeout: a send made no progress for 32 s of a 30 s timeout");
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Minimum_data_rate_ends_a_trickling_client_promptly()
    {
        var time = new FakeTimeProvider();
        var begun = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await Start(
            ConnectionHandler.Create(async connection =>
            {
                // A message begins with its first bytes, as the message reader marks it, and never ends.
                var input = connection.Transport.Input;
                var result = await input.ReadAsync();
                connection.OnMessageStarted();
                begun.TrySetResult();
                while (!result.IsCompleted)
                {
                    input.AdvanceTo(result.Buffer.End);
                    result = await input.ReadAsync();
                }
            }),
            time,
            o =>
            {
                o.MinDataRate = 100;
                o.MinDataRateGracePeriod = TimeSpan.FromSeconds(5);
            });
        using var client = await server.Server.ConnectAsync();
        var connection = await Guard.ExpectAsync(server.Accepted.Task, "accept: the server did not run the handler for a new connection");
        await client.SendAsync("a line begun");
        await Guard.ExpectAsync(begun.Task, "receive: the handler did not get the first bytes of the message");

        Beat(time, 8);

        await Guard.EndedAsync(connection, ConnectionEndReason.SlowClient, "Minimum data rate: no byte of a message begun 8 s ago, against 100 B/s after a 5 s grace");
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task TLS_handshake_timeout_ends_a_stalled_handshake_promptly()
    {
        var time = new FakeTimeProvider();
        await using var server = await Start(
            new EchoHandler(),
            time,
            o => o.Listeners[0].Tls = new TlsOptions(TestCertificates.Server) { HandshakeTimeout = TimeSpan.FromSeconds(10) });
        using var client = await server.Server.ConnectAsync();

        // The start of a ClientHello, then nothing.
        await client.SendAsync(new byte[] { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01 });

        await Guard.ExpectAsync(PumpUntilAsync(time, ReadsEndAsync(client)), "TLS handshake timeout: a handshake stalled far past its 10 s deadline was not ended");
        await Guard.ExpectAsync(server.Server.Logs.WaitForAsync(r => r.EventId.Id == 11 && r.Message.Contains("TlsHandshakeTimeout", StringComparison.Ordinal)), "TLS handshake timeout: the connection did not end as TlsHandshakeTimeout");
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task PROXY_header_timeout_ends_a_stalled_header_promptly()
    {
        var time = new FakeTimeProvider();
        await using var server = await Start(
            new EchoHandler(),
            time,
            o =>
            {
                var proxy = new ProxyProtocolOptions { HeaderTimeout = TimeSpan.FromSeconds(5) };
                proxy.TrustedProxies.Add(IPNetwork.Parse("127.0.0.0/8"));
                o.Listeners[0].ProxyProtocol = proxy;
            });
        using var client = await server.Server.ConnectAsync();
        await client.SendAsync("PROXY TCP4 203.0.113.7");

        await Guard.ExpectAsync(PumpUntilAsync(time, ReadsEndAsync(client)), "PROXY header timeout: a header stalled far past its 5 s deadline was not ended");
        await Guard.ExpectAsync(server.Server.Logs.WaitForAsync(r => r.EventId.Id == 11 && r.Message.Contains("ProxyHeaderTimeout", StringComparison.Ordinal)), "PROXY header timeout: the connection did not end as ProxyHeaderTimeout");
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_connection_that_ended_frees_its_place_under_the_connection_limit()
    {
        var started = 0;
        await using var server = await TestServer.StartAsync(
            async connection =>
            {
                Interlocked.Increment(ref started);
                await new EchoHandler().OnConnectedAsync(connection);
            },
            o => o.MaxConnections = 1);

        for (var i = 1; i <= 3; i++)
        {
            using var client = await server.ConnectAsync();
            await client.SendAsync("ping");
            var echo = client.ReceiveExactlyAsync(4);
            await Guard.ExpectAsync(
                Task.WhenAny(echo, ReadsEndAsync(client)).Unwrap(),
                $"Connection slot release: connection {i} of 3, one at a time under a limit of 1, got no answer");
            Assert.True(echo.IsCompletedSuccessfully, $"Connection slot release: connection {i} of 3, one at a time under a limit of 1, was refused: an earlier one kept its place");
            client.HalfClose();
            await Guard.ExpectAsync(ReadsEndAsync(client), $"Connection slot release: connection {i} was not closed after the client ended it");
            await Guard.ExpectAsync(Guard.UntilAsync(() => server.Server.ConnectionCount == 0), $"Connection slot release: connection {i} still counts after it closed");
        }

        Assert.Equal(3, started);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task The_connection_limit_refuses_the_connection_over_it_at_once()
    {
        await using var server = await TestServer.StartAsync(new EchoHandler(), o => o.MaxConnections = 2);
        using var first = await server.ConnectAsync();
        using var second = await server.ConnectAsync();
        await first.SendAsync("1");
        await second.SendAsync("2");
        await Guard.ExpectAsync(Task.WhenAll(first.ReceiveExactlyAsync(1), second.ReceiveExactlyAsync(1)), "accept: two connections under a limit of 2 got no echo");

        // Nothing is sent: the refused connection may be closed before a send could be. Under load its reset can
        // even arrive before the client's connect completes, which then fails: refused all the same.
        TestClient third;
        try
        {
            third = await server.ConnectAsync();
        }
        catch (SocketException error) when (error.SocketErrorCode == SocketError.ConnectionReset)
        {
            return;
        }

        using (third)
        {
            await Guard.ExpectAsync(ReadsEndAsync(third), "Connection limit: a third connection under a limit of 2 was served, not closed at once");
        }
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Shutdown_timeout_aborts_a_handler_that_ignores_the_stop()
    {
        var time = new FakeTimeProvider();
        await using var server = await Start(
            ConnectionHandler.Create(connection => connection.ConnectionClosed.WhenCanceled()),
            time,
            o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
        using var client = await server.Server.ConnectAsync();
        var connection = await Guard.ExpectAsync(server.Accepted.Task, "accept: the server did not run the handler for a new connection");

        var stopping = server.Server.Server.StopAsync(TestContext.Current.CancellationToken);

        await Guard.ExpectAsync(PumpUntilAsync(time, stopping), "Shutdown timeout: StopAsync still waits for a handler that ignores the stop, long past the 30 s timeout");
        Assert.True(connection.EndReason == ConnectionEndReason.ServerShutdown, $"Shutdown timeout: the connection ended as {connection.EndReason}, not ServerShutdown");
    }

    /// <summary>Reads until the server ends the connection: end of stream or a reset.</summary>
    private static async Task ReadsEndAsync(TestClient client)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (await client.Socket.ReceiveAsync(buffer, SocketFlags.None, TestContext.Current.CancellationToken) > 0)
            {
            }
        }
        catch (SocketException)
        {
        }
    }

    /// <summary>
    /// Advances the fake clock a second at a time until <paramref name="done"/> completes. For deadlines that start at
    /// a moment the test cannot see (a layer's handshake begins, a stop begins): each step makes them due sooner.
    /// </summary>
    private static async Task PumpUntilAsync(FakeTimeProvider time, Task done)
    {
        while (!done.IsCompleted)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.WhenAny(done, Task.Delay(20, TestContext.Current.CancellationToken));
        }

        await done;
    }


    private static void Beat(FakeTimeProvider time, int seconds)
    {
        for (var i = 0; i < seconds; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
        }
    }

    private static async Task<Started> Start(ConnectionHandler handler, FakeTimeProvider time, Action<SocketServerOptions> configure)
    {
        var accepted = new TaskCompletionSource<Connection>(TaskCreationOptions.RunContinuationsAsynchronously);
        var server = await TestServer.StartAsync(
            connection =>
            {
                accepted.TrySetResult(connection);
                return handler.OnConnectedAsync(connection);
            },
            configure,
            time);
        return new Started(server, accepted);
    }

    private sealed record Started(TestServer Server, TaskCompletionSource<Connection> Accepted) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Server.DisposeAsync();
    }
}
