using System.Net.Sockets;
using System.Security.Cryptography;
using Sockeye.Handlers;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Transport;

public class ConnectionLifetimeTests
{
    [Fact(Timeout = Timeouts.Network)]
    public async Task A_client_that_ended_its_side_still_receives_everything_the_handler_writes()
    {
        var reply = RandomNumberGenerator.GetBytes(4 * 1024 * 1024);
        await using var server = await TestServer.StartAsync(async connection =>
        {
            var input = connection.Transport.Input;
            while (true)
            {
                var result = await input.ReadAsync();
                input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }

            // The client has ended its side; the reply must still arrive whole.
            await connection.Transport.Output.WriteAsync(reply);
        });
        using var client = await server.ConnectAsync();
        await client.SendAsync("request");
        client.HalfClose();

        Assert.Equal(reply, await client.ReceiveToEndAsync());
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Closing_drains_what_the_client_still_sends_so_no_reset_cuts_the_reply()
    {
        // The client sends more than the server reads, and reads the reply only after the server has closed.
        // Closing a socket with unread bytes makes Linux send a reset and discard what is still in the send
        // queue: the reply would arrive cut short. The server must drain before it closes.
        var reply = RandomNumberGenerator.GetBytes(256 * 1024);
        var replied = new TaskCompletionSource();
        var closed = new TaskCompletionSource<Connection>();
        await using var server = await TestServer.StartAsync(
            async connection =>
            {
                _ = connection.ConnectionClosed.WhenCanceled().ContinueWith(_ => closed.SetResult(connection), TaskScheduler.Default);
                var request = await connection.Transport.Input.ReadAtLeastAsync(7);
                connection.Transport.Input.AdvanceTo(request.Buffer.GetPosition(7));
                await connection.Transport.Output.WriteAsync(reply);
                replied.SetResult();
            },
            options => options.LingerTimeout = TimeSpan.FromMilliseconds(300));
        using var client = await server.ConnectAsync();

        await client.SendAsync("request");
        await replied.Task.WithTestTimeout();
        await client.SendAsync(new byte[64 * 1024]);
        var connection = await closed.Task.WithTestTimeout();

        Assert.Equal(reply, await client.ReceiveToEndAsync());
        Assert.Equal(ConnectionEndReason.ServerClosed, connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Idle_connections_hold_no_receive_buffer()
    {
        const int Idle = 200;
        var started = 0;
        var allStarted = new TaskCompletionSource();
        var holding = new TaskCompletionSource();
        await using var server = await TestServer.StartAsync(async connection =>
        {
            if (Interlocked.Increment(ref started) == Idle)
            {
                allStarted.SetResult();
            }

            var result = await connection.Transport.Input.ReadAsync();

            // Hold the data without consuming it, so its buffer stays rented.
            holding.TrySetResult();
            await connection.CloseRequested.WhenCanceled();
            connection.Transport.Input.AdvanceTo(result.Buffer.End);
        });
        var pool = server.Server.Context.MemoryPool;

        var clients = await Task.WhenAll(Enumerable.Range(0, Idle).Select(_ => server.ConnectAsync()));
        await allStarted.Task.WithTestTimeout();
        Assert.Equal(0, pool.RentedBlocks);

        await clients[0].SendAsync("wake up");
        await holding.Task.WithTestTimeout();
        Assert.Equal(1, pool.RentedBlocks);

        foreach (var client in clients)
        {
            client.Dispose();
        }
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_handler_that_returns_first_ends_the_connection_as_server_closed()
    {
        var accepted = new TaskCompletionSource<Connection>();
        await using var server = await TestServer.StartAsync(async connection =>
        {
            accepted.SetResult(connection);
            await connection.Transport.Output.WriteAsync("done"u8.ToArray());
        });
        using var client = await server.ConnectAsync();

        Assert.Equal("done", await client.ReceiveTextToEndAsync());
        client.Dispose();
        var connection = await accepted.Task.WithTestTimeout();
        await connection.WaitClosedAsync();
        Assert.Equal(ConnectionEndReason.ServerClosed, connection.EndReason);
        Assert.Equal(4, connection.BytesSent);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_client_that_ends_first_ends_the_connection_as_client_closed()
    {
        var accepted = new TaskCompletionSource<Connection>();
        await using var server = await TestServer.StartAsync(async connection =>
        {
            accepted.SetResult(connection);
            await new EchoHandler().OnConnectedAsync(connection);
        });
        using var client = await server.ConnectAsync();
        await client.SendAsync("12345");
        client.HalfClose();

        Assert.Equal("12345", await client.ReceiveTextToEndAsync());
        var connection = await accepted.Task.WithTestTimeout();
        await connection.WaitClosedAsync();
        Assert.Equal(ConnectionEndReason.ClientClosed, connection.EndReason);
        Assert.Equal(5, connection.BytesReceived);
        Assert.Equal(5, connection.BytesSent);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_client_reset_fails_the_handlers_read_and_fires_connection_closed()
    {
        var accepted = new TaskCompletionSource<Connection>();
        var readFailure = new TaskCompletionSource<Exception>();
        await using var server = await TestServer.StartAsync(async connection =>
        {
            accepted.SetResult(connection);
            try
            {
                while (true)
                {
                    var result = await connection.Transport.Input.ReadAsync();
                    connection.Transport.Input.AdvanceTo(result.Buffer.End);
                }
            }
            catch (Exception ex)
            {
                readFailure.SetResult(ex);
                throw;
            }
        });
        using var client = await server.ConnectAsync();
        await client.SendAsync("partial");
        var connection = await accepted.Task.WithTestTimeout();

        client.Reset();

        Assert.IsType<ConnectionResetException>(await readFailure.Task.WithTestTimeout());
        await connection.WaitClosedAsync();
        Assert.Equal(ConnectionEndReason.ConnectionReset, connection.EndReason);
        var ended = await server.Logs.WaitForAsync(r => r.EventId.Id == 11);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Debug, ended.Level);
        Assert.DoesNotContain(server.Logs.Records, r => r.Level >= Microsoft.Extensions.Logging.LogLevel.Warning);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Abort_resets_the_client_and_records_the_first_reason_only()
    {
        var accepted = new TaskCompletionSource<Connection>();
        await using var server = await TestServer.StartAsync(async connection =>
        {
            accepted.SetResult(connection);
            var request = await connection.Transport.Input.ReadAsync();
            connection.Transport.Input.AdvanceTo(request.Buffer.End);
            await connection.Transport.Output.WriteAsync("partial reply"u8.ToArray());
            connection.Abort(ConnectionEndReason.MessageTooLarge);
            connection.Abort(ConnectionEndReason.IdleTimeout);
            await Assert.ThrowsAsync<ConnectionAbortedException>(async () => await connection.Transport.Input.ReadAsync(TestContext.Current.CancellationToken));
        });
        using var client = await server.ConnectAsync();
        await client.SendAsync("go");
        var connection = await accepted.Task.WithTestTimeout();
        await connection.WaitClosedAsync();

        Assert.Equal(ConnectionEndReason.MessageTooLarge, connection.EndReason);
        var error = await Assert.ThrowsAsync<SocketException>(() => client.ReceiveToEndAsync());
        Assert.Equal(SocketError.ConnectionReset, error.SocketErrorCode);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Every_connection_log_line_carries_the_connection_id()
    {
        var accepted = new TaskCompletionSource<Connection>();
        await using var server = await TestServer.StartAsync(connection =>
        {
            accepted.SetResult(connection);
            return Task.CompletedTask;
        });
        using var client = await server.ConnectAsync();
        var connection = await accepted.Task.WithTestTimeout();
        await client.ReceiveToEndAsync();

        var ended = await server.Logs.WaitForAsync(r => r.EventId.Id == 11);
        var scope = Assert.Single(ended.Scopes.OfType<IReadOnlyList<KeyValuePair<string, object?>>>());
        Assert.Equal(new KeyValuePair<string, object?>("ConnectionId", connection.Id), scope[0]);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_handler_that_ends_after_a_wait_leaves_one_connection_scope_on_the_end_line()
    {
        // The handler's continuations carry the connection's scope; the closing sequence opens its own, so it must not
        // run inside the handler's context as well (the end line once carried the scope twice, in serve's JSON logs).
        var waiting = new TaskCompletionSource<Connection>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(async connection =>
        {
            var read = connection.Transport.Input.ReadAsync();
            waiting.SetResult(connection);
            var result = await read;
            connection.Transport.Input.AdvanceTo(result.Buffer.End);
        });
        using var client = await server.ConnectAsync();
        var connection = await waiting.Task.WithTestTimeout();
        await client.SendAsync("x");
        client.HalfClose();
        await client.ReceiveToEndAsync();

        var ended = await server.Logs.WaitForAsync(r => r.EventId.Id == 11);
        var scope = Assert.Single(ended.Scopes.OfType<IReadOnlyList<KeyValuePair<string, object?>>>());
        Assert.Equal(new KeyValuePair<string, object?>("ConnectionId", connection.Id), scope[0]);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Without_the_connection_scope_the_lines_still_name_the_connection()
    {
        await using var server = await TestServer.StartAsync(
            ConnectionHandler.Create(_ => Task.CompletedTask), options => options.ConnectionLogScope = false);
        using var client = await server.ConnectAsync();
        await client.ReceiveToEndAsync();

        var ended = await server.Logs.WaitForAsync(r => r.EventId.Id == 11);
        Assert.Empty(ended.Scopes);
        Assert.StartsWith("Connection 1 ended", ended.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = Timeouts.Load)]
    public async Task Sixteen_mebibytes_echo_intact_while_sending_and_reading_at_once()
    {
        var data = RandomNumberGenerator.GetBytes(16 * 1024 * 1024);
        await using var server = await TestServer.StartAsync(new EchoHandler());
        using var client = await server.ConnectAsync();

        var sending = Task.Run(async () =>
        {
            for (var offset = 0; offset < data.Length; offset += 64 * 1024)
            {
                await client.SendAsync(data.AsMemory(offset, 64 * 1024));
            }

            client.HalfClose();
        }, TestContext.Current.CancellationToken);
        var echoed = await client.ReceiveToEndAsync();
        await sending;

        Assert.Equal(data.Length, echoed.Length);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(echoed));
    }
}
