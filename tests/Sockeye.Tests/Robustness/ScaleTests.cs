using System.Security.Cryptography;
using Sockeye.Handlers;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Robustness;

[Collection(LoadGroup.Name)]
public class ScaleTests
{
    [Fact(Timeout = Timeouts.Load)]
    public async Task Five_thousand_idle_connections_are_held_while_an_echo_client_gets_answers()
    {
        const int Idle = 5000;
        var tracker = new ConnectionTracker(new EchoHandler());
        await using var server = await TestServer.StartAsync(tracker);
        var clients = new List<TestClient>(Idle);
        try
        {
            for (var batch = 0; batch < Idle / 250; batch++)
            {
                clients.AddRange(await Task.WhenAll(Enumerable.Range(0, 250).Select(_ => server.ConnectAsync())));
            }

            await tracker.WaitForStartedAsync(Idle);
            using var active = await server.ConnectAsync();
            var message = RandomNumberGenerator.GetBytes(32);
            for (var round = 0; round < 200; round++)
            {
                await active.SendAsync(message);
                Assert.Equal(message, await active.ReceiveExactlyAsync(32));
            }

            Assert.Equal(Idle + 1, server.Server.ConnectionCount);

            // Idle connections hold no receive buffer: the pool holds what the one active connection uses.
            Assert.InRange(server.Server.Context.MemoryPool.RentedBlocks, 0, 4);
            Assert.All(tracker.Connections, c => Assert.Equal(ConnectionEndReason.None, c.EndReason));
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
    }

    [Fact(Timeout = Timeouts.Load)]
    public async Task Two_hundred_fifty_six_mebibytes_echo_intact_across_64_concurrent_clients()
    {
        const int Clients = 64;
        const int PerClient = 4 * 1024 * 1024;
        await using var server = await TestServer.StartAsync(new EchoHandler());

        var transfers = Enumerable.Range(0, Clients).Select(_ => Task.Run(async () =>
        {
            var data = RandomNumberGenerator.GetBytes(PerClient);
            using var client = await server.ConnectAsync();
            var sending = Task.Run(async () =>
            {
                for (var offset = 0; offset < data.Length; offset += 32 * 1024)
                {
                    await client.SendAsync(data.AsMemory(offset, 32 * 1024));
                }

                client.HalfClose();
            });
            var echoed = await client.ReceiveToEndAsync();
            await sending;
            return SHA256.HashData(data).SequenceEqual(SHA256.HashData(echoed)) && echoed.Length == data.Length;
        }));

        var intact = await Task.WhenAll(transfers);

        Assert.All(intact, Assert.True);
    }

    [Fact(Timeout = Timeouts.Load)]
    public async Task Ten_cycles_at_the_connection_limit_leak_no_place()
    {
        const int Limit = 50;
        var tracker = new ConnectionTracker(new EchoHandler());
        await using var server = await TestServer.StartAsync(tracker, o => o.MaxConnections = Limit);

        for (var cycle = 0; cycle < 10; cycle++)
        {
            var clients = await Task.WhenAll(Enumerable.Range(0, Limit).Select(_ => server.ConnectAsync()));
            await tracker.WaitForStartedAsync(Limit);
            foreach (var client in clients)
            {
                await client.SendAsync("ping");
                Assert.Equal("ping"u8.ToArray(), await client.ReceiveExactlyAsync(4));
            }

            await RefusedWithoutDataAsync(server);

            var served = tracker.Connections.TakeLast(Limit).ToList();
            foreach (var client in clients)
            {
                client.Dispose();
            }

            await Task.WhenAll(served.Select(c => c.WaitClosedAsync()));
        }

        // After ten rounds of filling and emptying, the full limit is available again.
        var last = await Task.WhenAll(Enumerable.Range(0, Limit).Select(_ => server.ConnectAsync()));
        await tracker.WaitForStartedAsync(Limit);
        foreach (var client in last)
        {
            await client.SendAsync("ok");
            Assert.Equal("ok"u8.ToArray(), await client.ReceiveExactlyAsync(2));
            client.Dispose();
        }

        var warned = server.Logs.Records.Count(r => r.EventId.Id == 7);
        Assert.Equal(10, warned);
    }

    /// <summary>A connection beyond the limit gets no data and is closed at once, possibly before connect returns.</summary>
    private static async Task RefusedWithoutDataAsync(TestServer server)
    {
        try
        {
            using var extra = await server.ConnectAsync();
            Assert.Empty(await extra.ReceiveToEndAsync());
        }
        catch (System.Net.Sockets.SocketException ex) when (ex.SocketErrorCode == System.Net.Sockets.SocketError.ConnectionReset)
        {
            // Refused with a reset, which is the point: no data, at once.
        }
    }
}
