using Microsoft.Extensions.Logging.Abstractions;
using Sockeye.Handlers;
using Sockeye.Protocols;
using Sockeye.Tests.Infrastructure;
using Sockeye.Tests.Protocols;
using Sockeye.Transport;

namespace Sockeye.Tests.Messaging;

/// <summary>The server's registry of live connections: listing them and finding one by id (issue 14).</summary>
public class RegistryTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact(Timeout = Timeouts.Network)]
    public async Task Running_connections_are_listed_and_found_by_id_until_they_end()
    {
        var tracker = new ConnectionTracker(new EchoHandler());
        await using var server = await TestServer.StartAsync(tracker);
        var clients = new List<TestClient>();
        try
        {
            // More than the registry's first 256 slots, so it grows while connections come and go.
            for (var i = 0; i < 300; i++)
            {
                clients.Add(await TestClient.ConnectAsync(server.EndPoint));
            }

            await tracker.WaitForStartedAsync(300);
            var connections = tracker.Connections;
            Assert.Equal(connections.Select(c => c.Id).Order(), server.Server.Connections.Select(c => c.Id).Order());
            Assert.All(connections, c => Assert.Same(c, Find(server.Server, c.Id)));

            // Every other client leaves: its connection is gone from the list, the rest are still found.
            var byPort = connections.ToDictionary(c => ((System.Net.IPEndPoint)c.RemoteEndPoint!).Port);
            var leaving = new List<Connection>();
            var staying = new List<Connection>();
            for (var i = 0; i < clients.Count; i++)
            {
                var connection = byPort[((System.Net.IPEndPoint)clients[i].Socket.LocalEndPoint!).Port];
                if (i % 2 == 0)
                {
                    clients[i].HalfClose();
                    leaving.Add(connection);
                }
                else
                {
                    staying.Add(connection);
                }
            }

            foreach (var connection in leaving)
            {
                await connection.WaitClosedAsync();
                Assert.False(server.Server.TryGetConnection(connection.Id, out _));
            }

            Assert.All(staying, c => Assert.Same(c, Find(server.Server, c.Id)));

            Assert.Equal(150, server.Server.Connections.Count());
            Assert.False(server.Server.TryGetConnection(0, out _));
            Assert.False(server.Server.TryGetConnection(1_000_000, out _));

            // New ones take freed slots and are found too.
            for (var i = 0; i < 100; i++)
            {
                clients.Add(await TestClient.ConnectAsync(server.EndPoint));
            }

            await tracker.WaitForStartedAsync(100);
            Assert.All(tracker.Connections.Skip(300), c => Assert.Same(c, Find(server.Server, c.Id)));
            Assert.Equal(250, server.Server.Connections.Count());
        }
        finally
        {
            clients.ForEach(client => client.Dispose());
        }
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_connection_is_unlisted_once_its_handler_returns_even_while_it_lingers()
    {
        var tracker = new ConnectionTracker(ConnectionHandler.Create(async connection =>
            await connection.Transport.Output.WriteAsync("bye"u8.ToArray())));
        await using var server = await TestServer.StartAsync(tracker);
        using var client = await TestClient.ConnectAsync(server.EndPoint);

        // The server's FIN has arrived: the handler is done, though the client has not closed its side yet.
        Assert.Equal("bye", await client.ReceiveTextToEndAsync());
        await tracker.WaitForStartedAsync(1);

        Assert.False(server.Server.TryGetConnection(tracker.Connections[0].Id, out _));
        Assert.Empty(server.Server.Connections);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_connection_in_its_TLS_handshake_is_not_listed_yet()
    {
        await using var server = await TestServer.StartAsync(new EchoHandler(), options => options.Listeners[0].Tls = new TlsOptions(TestCertificates.Server));
        using var client = await TestClient.ConnectAsync(server.EndPoint);
        await PushTests.WaitUntilAsync(() => server.Server.ConnectionCount == 1);

        Assert.Empty(server.Server.Connections);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task The_index_finds_every_connection_through_growth_and_churn()
    {
        await Task.Yield();
        using var context = new ServerContext(new SocketServerOptions(), NullLoggerFactory.Instance, TimeProvider.System, meterFactory: null);
        var registry = context.Connections;
        var live = new Dictionary<long, FakeConnection>();
        var order = new List<FakeConnection>();
        var random = new Random(14);
        long nextId = 0;

        // Long-lived connections among many short ones: ids wrap around the index many times.
        for (var step = 0; step < 20_000; step++)
        {
            if (live.Count < 50 || (live.Count < 3000 && random.Next(3) > 0))
            {
                var connection = new FakeConnection(++nextId, context);
                Assert.True(registry.TryReserve(null));
                registry.Add(connection);
                live.Add(connection.Id, connection);
                order.Add(connection);
            }
            else
            {
                var index = random.Next(order.Count);
                var victim = order[index];
                order[index] = order[^1];
                order.RemoveAt(order.Count - 1);
                registry.Remove(victim);
                live.Remove(victim.Id);
                Assert.Null(registry.Find(victim.Id));
            }

            if (step % 500 == 0)
            {
                Assert.All(live.Values, c => Assert.Same(c, registry.Find(c.Id)));
            }
        }

        Assert.All(live.Values, c => Assert.Same(c, registry.Find(c.Id)));
        Assert.Equal(live.Count, registry.Count);
    }

    private static Connection? Find(SocketServer server, long id) => server.TryGetConnection(id, out var connection) ? connection : null;

    /// <summary>A connection with no transport, for the registry alone.</summary>
    private sealed class FakeConnection(long id, ServerContext context) : TransportConnection(id, null, _ => Task.CompletedTask, context)
    {
        internal override bool IsReceivePaused => false;

        protected override Task ReceivingEnded => Task.CompletedTask;

        protected override void AbortTransport()
        {
        }

        protected override Task CloseTransportAsync() => Task.CompletedTask;

        protected override ValueTask CompleteApplicationPipesAsync() => ValueTask.CompletedTask;

        protected override Task FinishSendingAsync() => Task.CompletedTask;

        protected override bool HasBytesWaiting() => false;

        protected override void StopLingering()
        {
        }

        protected override void StartTransport()
        {
        }
    }
}
