using System.Text;
using Microsoft.Extensions.Time.Testing;
using Sockeye.Framing;
using Sockeye.Testing;
using Sockeye.Tests.Infrastructure;
using TestServer = Sockeye.Testing.TestServer;

namespace Sockeye.Tests.Testing;

/// <summary>The public testing kit's server (issue 14, item 9), used as a user would: several clients, one real server, a fake clock.</summary>
public class TestServerTests
{
    private static readonly LineFramer s_lines = new();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Several_clients_meet_in_a_group_and_are_found_by_id_without_a_socket()
    {
        var room = new ConnectionGroup();
        await using var server = TestServer.Start(new RelayHandler(room));
        await using var alice = server.Connect();
        await using var bob = server.Connect();
        await using var carol = server.Connect();

        // The handler has started when Connect returns: the connection is listed, and in the room.
        Assert.Equal(3, server.Server.Connections.Count());
        Assert.Equal(3, room.Count);
        Assert.True(server.Server.TryGetConnection(bob.Connection.Id, out var found));
        Assert.Same(bob.Connection, found);

        await alice.SendAsync("hello\n");
        Assert.Equal("hello\n", await ReceiveAsync(bob, 6));
        Assert.Equal("hello\n", await ReceiveAsync(carol, 6));

        await carol.CompleteSendingAsync();
        await carol.Completion.WithTestTimeout();
        Assert.Equal(ConnectionEndReason.ClientClosed, carol.Connection.EndReason);
        Assert.Equal(6, carol.Connection.BytesSent);
        Assert.Equal(2, room.Count);
        Assert.False(server.Server.TryGetConnection(carol.Connection.Id, out _));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task The_servers_timeouts_run_on_the_fake_clock()
    {
        var clock = new FakeTimeProvider();
        var options = new SocketServerOptions { IdleTimeout = TimeSpan.FromSeconds(60), WriteTimeout = TimeSpan.FromSeconds(10) };
        await using var server = TestServer.Start(new RelayHandler(new ConnectionGroup()), options, clock);
        await using var quiet = server.Connect();
        await using var stalled = server.Connect();

        // The stalled client reads nothing while the server pushes to it: its sends wait, then time out.
        var pushing = PushUntilBlockedAsync(stalled.Connection);
        await pushing.WithTestTimeout();
        for (var second = 0; second < 12 && stalled.Connection.EndReason == ConnectionEndReason.None; second++)
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(5, Token);
        }

        await stalled.Completion.WithTestTimeout();
        Assert.Equal(ConnectionEndReason.SlowReader, stalled.Connection.EndReason);
        Assert.Equal(ConnectionEndReason.None, quiet.Connection.EndReason);

        for (var second = 0; second < 62 && quiet.Connection.EndReason == ConnectionEndReason.None; second++)
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(1, Token);
        }

        await quiet.Completion.WithTestTimeout();
        Assert.Equal(ConnectionEndReason.IdleTimeout, quiet.Connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Stopping_asks_handlers_to_finish_and_aborts_the_one_that_does_not_after_the_shutdown_timeout()
    {
        var clock = new FakeTimeProvider();
        var options = new SocketServerOptions { ShutdownTimeout = TimeSpan.FromSeconds(30) };
        await using var server = TestServer.Start(ConnectionHandler.Create(async connection =>
        {
            if (connection.Id == 1)
            {
                // Finishes when asked.
                await connection.CloseRequested.WhenCanceled();
                return;
            }

            // Ignores the request, and reads until it is aborted.
            while (!(await connection.Transport.Input.ReadAsync()).IsCanceled)
            {
            }
        }), options, clock);
        await using var polite = server.Connect();
        await using var stubborn = server.Connect();

        var stopping = server.StopAsync();
        await polite.Completion.WithTestTimeout();
        Assert.Equal(ConnectionEndReason.ServerClosed, polite.Connection.EndReason);
        Assert.False(stopping.IsCompleted);

        clock.Advance(TimeSpan.FromSeconds(30));
        await stopping.WithTestTimeout();
        Assert.Equal(ConnectionEndReason.ServerShutdown, stubborn.Connection.EndReason);
        Assert.Throws<ObjectDisposedException>(() => server.Connect());

        // The one that finished was closed; the one aborted, reset.
        Assert.Empty(await polite.ReceiveToEndAsync(Token));
        await Assert.ThrowsAsync<ConnectionResetException>(() => stubborn.ReceiveToEndAsync(Token));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_client_ended_by_a_timeout_reads_what_reached_it_then_a_reset()
    {
        var clock = new FakeTimeProvider();
        var options = new SocketServerOptions { IdleTimeout = TimeSpan.FromSeconds(60), WriteTimeout = TimeSpan.FromSeconds(10) };
        var chunk = new byte[16 * 1024];
        await using var server = TestServer.Start(ConnectionHandler.Create(async connection =>
        {
            if (connection.Id == 1)
            {
                // To the client that never reads: until the send waits on it, and then until it is cut off.
                while (!(await connection.Transport.Output.WriteAsync(chunk)).IsCompleted)
                {
                }

                return;
            }

            await connection.Transport.Output.WriteAsync("hello\n"u8.ToArray());
            while (!(await connection.Transport.Input.ReadAsync()).IsCanceled)
            {
            }
        }), options, clock);
        await using var stalled = server.Connect();
        await using var quiet = server.Connect();

        // The stalled client's window is full (read, not consumed): the server's send waits on it from now on.
        var window = await stalled.Input.ReadAtLeastAsync(64 * 1024, Token);
        var waiting = window.Buffer.Length;
        stalled.Input.AdvanceTo(window.Buffer.Start);
        Assert.Equal("hello\n"u8.ToArray(), await quiet.ReceiveAsync(6, Token));

        for (var second = 0; second < 62 && quiet.Connection.EndReason == ConnectionEndReason.None; second++)
        {
            clock.Advance(TimeSpan.FromSeconds(1));
        }

        await stalled.Completion.WithTestTimeout();
        await quiet.Completion.WithTestTimeout();
        Assert.Equal(ConnectionEndReason.SlowReader, stalled.Connection.EndReason);
        Assert.Equal(ConnectionEndReason.IdleTimeout, quiet.Connection.EndReason);

        // What had reached the stalled client is all there, then the reset; nothing more came after it.
        Assert.Equal(waiting, (await stalled.ReceiveAsync((int)waiting, Token)).Length);
        await Assert.ThrowsAsync<ConnectionResetException>(() => stalled.ReceiveAsync(1, Token));
        await Assert.ThrowsAsync<ConnectionResetException>(() => quiet.ReceiveToEndAsync(Token));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task What_a_handler_throws_is_kept_and_a_reset_reaches_the_handler()
    {
        await using var server = TestServer.Start(ConnectionHandler.Create(async connection =>
        {
            var result = await connection.Transport.Input.ReadAsync();
            if (result.Buffer.Length > 0)
            {
                throw new InvalidDataException("bad frame");
            }
        }));
        await using var failing = server.Connect();
        await using var resetting = server.Connect();

        await failing.SendAsync("x");
        await failing.Completion.WithTestTimeout();
        Assert.Equal(ConnectionEndReason.HandlerError, failing.Connection.EndReason);
        Assert.Equal("bad frame", Assert.IsType<InvalidDataException>(failing.HandlerException).Message);
        Assert.Equal(1, failing.Connection.BytesReceived);
        await Assert.ThrowsAsync<ConnectionResetException>(() => failing.ReceiveToEndAsync(Token));

        resetting.Reset();
        await resetting.Completion.WithTestTimeout();
        Assert.Equal(ConnectionEndReason.ConnectionReset, resetting.Connection.EndReason);
        Assert.IsType<ConnectionResetException>(resetting.HandlerException);
    }

    private static async Task PushUntilBlockedAsync(Connection connection)
    {
        // Into the connection's send buffer and the client's window, until a send has to wait for the client.
        var chunk = new byte[16 * 1024];
        var output = connection.Transport.Output;
        _ = connection;
        for (var i = 0; i < 64; i++)
        {
            var flush = output.WriteAsync(chunk, Token);
            if (!flush.IsCompleted)
            {
                return;
            }

            await flush;
        }
    }

    private static async Task<string> ReceiveAsync(TestConnection client, int count) => Encoding.ASCII.GetString(await client.ReceiveAsync(count, Token));

    /// <summary>The chat relay in a few lines: every line a client sends goes to the others.</summary>
    private sealed class RelayHandler(ConnectionGroup room) : ConnectionHandler
    {
        public override async Task OnConnectedAsync(Connection connection)
        {
            room.Add(connection);
            await foreach (var line in connection.ReadMessagesAsync(s_lines))
            {
                await room.BroadcastMessageAsync(s_lines, line, except: connection);
            }
        }
    }
}
