using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Sockeye.Cli.Handlers;
using Sockeye.Handlers;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Robustness;

/// <summary>Slow, rude and hostile clients end their own connections and nothing else.</summary>
[Collection(LoadGroup.Name)]
public class HostileClientTests
{
    [Fact(Timeout = Timeouts.Load)]
    public async Task Slowloris_clients_are_ended_while_others_are_served()
    {
        var time = new FakeTimeProvider();
        var tracker = new ConnectionTracker(new EofEchoHandler(HandlerOutput.Null));
        await using var server = await TestServer.StartAsync(tracker, o =>
        {
            o.MinDataRate = 240;
            o.MinDataRateGracePeriod = TimeSpan.FromSeconds(5);
        }, time);

        var trickling = await Task.WhenAll(Enumerable.Range(0, 100).Select(async _ =>
        {
            var client = await server.ConnectAsync();
            await client.SendAsync("GET / HTTP/1.1\r\nX-a: b");
            return client;
        }));
        try
        {
            await SlowlorisAsync(server, tracker, time, trickling);
        }
        finally
        {
            // Closed before the server is disposed: on the fake clock, a stop would wait for ever for clients still open.
            foreach (var client in trickling)
            {
                client.Dispose();
            }
        }
    }

    private static async Task SlowlorisAsync(TestServer server, ConnectionTracker tracker, FakeTimeProvider time, TestClient[] trickling)
    {
        await tracker.WaitForStartedAsync(trickling.Length);
        await EchoExchangeAsync(server);

        // Each connection's rate is timed from when its reader first sees its bytes, which a loaded machine may reach
        // some beats into the loop: beat on until every one has ended (5 s of grace and a beat after it, from there),
        // up to a bound far past that. A connection still open at the bound fails the assertion below.
        var slow = tracker.Connections.Take(trickling.Length).ToList();
        for (var second = 0; second < 30 && slow.Any(c => c.EndReason == ConnectionEndReason.None); second++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            foreach (var client in trickling.Where((_, i) => i % 2 == 0))
            {
                // Half of them keep trickling a byte a second; that is still far below the rate.
                await TrySendAsync(client, "c");
            }
        }

        Assert.All(slow, c => Assert.Equal(ConnectionEndReason.SlowClient, c.EndReason));
        await Task.WhenAll(slow.Select(c => c.WaitClosedAsync()));
        await EchoExchangeAsync(server);
        Assert.DoesNotContain(server.Logs.Records, r => r.Level >= LogLevel.Warning);
    }

    [Fact(Timeout = Timeouts.Load)]
    public async Task Clients_that_never_read_are_ended_as_slow_readers_with_memory_bounded()
    {
        const int Readers = 20;
        var time = new FakeTimeProvider();
        var blocked = 0;
        var allBlocked = new TaskCompletionSource();
        var tracker = new ConnectionTracker(ConnectionHandler.Create(async connection =>
        {
            if (connection.Id > Readers)
            {
                await new EchoHandler().OnConnectedAsync(connection);
                return;
            }

            // A large download the client never reads.
            var chunk = new byte[64 * 1024];
            var counted = false;
            for (var written = 0L; written < 1L << 30; written += chunk.Length)
            {
                var flushing = connection.Transport.Output.WriteAsync(chunk);
                if (!flushing.IsCompleted && !counted && Interlocked.Increment(ref blocked) == Readers)
                {
                    allBlocked.SetResult();
                }

                counted |= !flushing.IsCompleted;
                if ((await flushing).IsCompleted)
                {
                    return;
                }
            }
        }));
        await using var server = await TestServer.StartAsync(tracker, o => o.WriteTimeout = TimeSpan.FromSeconds(30), time);
        var readers = new List<TestClient>();
        for (var i = 0; i < Readers; i++)
        {
            readers.Add(await server.ConnectAsync());
            await tracker.WaitForStartedAsync(1);
        }

        await allBlocked.Task.WithTestTimeout();
        var held = server.Server.Context.MemoryPool.RentedBlocks;
        Assert.InRange(held, 1, Readers * 40);
        for (var second = 0; second < 35; second++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
        }

        var stalled = tracker.Connections.Take(Readers).ToList();
        await Task.WhenAll(stalled.Select(c => c.WaitClosedAsync()));
        Assert.All(stalled, c => Assert.Equal(ConnectionEndReason.SlowReader, c.EndReason));
        await EchoExchangeAsync(server, useEcho: true);
        foreach (var reader in readers)
        {
            reader.Dispose();
        }
    }

    [Fact(Timeout = Timeouts.Load)]
    public async Task Clients_that_reset_mid_message_change_nothing_for_the_others()
    {
        var tracker = new ConnectionTracker(new EofEchoHandler(HandlerOutput.Null));
        await using var server = await TestServer.StartAsync(tracker);

        var polite = Enumerable.Range(0, 20).Select(_ => Task.Run(async () =>
        {
            var message = RandomMessage(200 * 1024);
            using var client = await server.ConnectAsync();
            for (var offset = 0; offset < message.Length; offset += 10 * 1024)
            {
                await client.SendAsync(message.AsMemory(offset, Math.Min(10 * 1024, message.Length - offset)));
            }

            var echoed = await client.ReceiveToEndAsync();
            return message.AsSpan().SequenceEqual(echoed);
        }));
        var rude = Enumerable.Range(0, 20).Select(_ => Task.Run(async () =>
        {
            using var client = await server.ConnectAsync();
            await client.SendAsync(RandomMessage(100 * 1024).AsMemory(0, 50 * 1024));
            client.Reset();
        }));

        await Task.WhenAll(rude);
        Assert.All(await Task.WhenAll(polite), Assert.True);
        await Task.WhenAll(tracker.Connections.Select(c => c.WaitClosedAsync()));
        Assert.Equal(20, tracker.Connections.Count(c => c.EndReason == ConnectionEndReason.ConnectionReset));
        Assert.DoesNotContain(server.Logs.Records, r => r.Level >= LogLevel.Warning);
    }

    [Fact(Timeout = Timeouts.Load)]
    public async Task A_thousand_clients_that_send_more_after_their_message_each_get_their_full_reply()
    {
        // Each client sends more after the server has answered (as one pipelining its next request would), and
        // reads its reply only once the server has closed. Closing with those bytes unread makes the kernel reset
        // the connection and throw away the part of the reply still queued to send: the reply arrives cut short.
        var handled = new ConcurrentDictionary<int, TaskCompletionSource>();
        var closed = new ConcurrentDictionary<int, TaskCompletionSource>();
        var eofEcho = new EofEchoHandler(HandlerOutput.Null);
        await using var server = await TestServer.StartAsync(
            async connection =>
            {
                var port = ((IPEndPoint)connection.RemoteEndPoint!).Port;
                _ = connection.ConnectionClosed.WhenCanceled().ContinueWith(_ => Signal(closed, port).TrySetResult(), TaskScheduler.Default);
                await eofEcho.OnConnectedAsync(connection);
                Signal(handled, port).TrySetResult();
            });
        using var gate = new SemaphoreSlim(100);

        var exchanges = Enumerable.Range(0, 1000).Select(async i =>
        {
            await gate.WaitAsync(TestContext.Current.CancellationToken);
            try
            {
                var message = RandomMessage(256 * 1024);
                using var client = await server.ConnectAsync();
                var port = ((IPEndPoint)client.Socket.LocalEndPoint!).Port;
                await client.SendAsync(message);
                await Signal(handled, port).Task.WithTestTimeout();
                await client.SendAsync(new byte[16 * 1024]);
                client.HalfClose();
                await Signal(closed, port).Task.WithTestTimeout();
                var reply = await client.ReceiveToEndAsync();
                return message.AsSpan().SequenceEqual(reply);
            }
            finally
            {
                gate.Release();
            }
        });

        var intact = await Task.WhenAll(exchanges);

        Assert.Equal(1000, intact.Count(ok => ok));
    }

    [Fact(Timeout = Timeouts.Load)]
    public async Task Handler_exceptions_stay_with_their_own_connections()
    {
        var tracker = new ConnectionTracker(ConnectionHandler.Create(async connection =>
        {
            var result = await connection.Transport.Input.ReadAtLeastAsync(4);
            if (StartsWithBoom(result.Buffer))
            {
                throw new InvalidOperationException("handler bug");
            }

            connection.Transport.Input.AdvanceTo(result.Buffer.Start);
            await new EchoHandler().OnConnectedAsync(connection);
        }));
        await using var server = await TestServer.StartAsync(tracker);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => Task.Run(async () =>
        {
            using var client = await server.ConnectAsync();
            var payload = i % 10 == 0 ? "boom" : $"fine {i:D4}";
            await client.SendAsync(payload);
            client.HalfClose();
            try
            {
                return (i, Text: await client.ReceiveTextToEndAsync());
            }
            catch (SocketException)
            {
                return (i, Text: "reset");
            }
        })));

        Assert.All(outcomes, o => Assert.Equal(o.i % 10 == 0 ? "reset" : $"fine {o.i:D4}", o.Text));
        await Task.WhenAll(tracker.Connections.Select(c => c.WaitClosedAsync()));
        Assert.Equal(20, tracker.Connections.Count(c => c.EndReason == ConnectionEndReason.HandlerError));
        Assert.Equal(20, server.Logs.Records.Count(r => r.EventId.Id == 12 && r.Level == LogLevel.Error));
    }

    private static TaskCompletionSource Signal(ConcurrentDictionary<int, TaskCompletionSource> signals, int port) =>
        signals.GetOrAdd(port, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    private static bool StartsWithBoom(System.Buffers.ReadOnlySequence<byte> buffer) => buffer.FirstSpan.StartsWith("boom"u8);

    private static byte[] RandomMessage(int size)
    {
        // Random letters (no '<'), so the delimiter can only be the one at the end. One RNG call per message: a
        // call per byte costs a microsecond each and would make the test about its own data, not the server.
        var bytes = RandomNumberGenerator.GetBytes(size);
        for (var i = 0; i < size - 5; i++)
        {
            bytes[i] = (byte)('a' + (bytes[i] % 26));
        }

        "<EOF>"u8.CopyTo(bytes.AsSpan(size - 5));
        return bytes;
    }

    private static async Task TrySendAsync(TestClient client, string text)
    {
        try
        {
            await client.SendAsync(text);
        }
        catch (SocketException)
        {
            // Already ended by the server: exactly what the test is waiting for.
        }
    }

    private static async Task EchoExchangeAsync(TestServer server, bool useEcho = false)
    {
        using var client = await server.ConnectAsync();
        if (useEcho)
        {
            await client.SendAsync("still here");
            Assert.Equal("still here", Encoding.UTF8.GetString(await client.ReceiveExactlyAsync(10)));
            return;
        }

        await client.SendAsync("still served<EOF>");
        client.HalfClose();
        Assert.Equal("still served<EOF>", await client.ReceiveTextToEndAsync());
    }
}
