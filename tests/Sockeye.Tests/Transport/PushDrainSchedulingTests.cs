using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text;
using Sockeye.Framing;
using Sockeye.Tests.Infrastructure;
using Sockeye.Tests.Messaging;
using Sockeye.Transport;
using Sockeye.Transport.Linux;

namespace Sockeye.Tests.Transport;

/// <summary>
/// Where pushed messages are drained into the socket on the epoll transport: on the connection's own event loop, as
/// its receives are, and, when a handler on a loop pushes, once the loop's round is done, so every message of one
/// receive that a relay broadcasts leaves for each member in one batch. The pushed-messages counter
/// (<c>sockeye.messages</c>, transmit) is recorded by the drain itself, on the drain's thread, once per batch.
/// </summary>
public class PushDrainSchedulingTests
{
    private const string LoopThreadPrefix = "sockeye-epoll-";
    private static readonly LineFramer s_lines = new();

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_push_from_any_thread_is_drained_on_the_connections_event_loop()
    {
        Assert.SkipUnless(LinuxTransport.IsSupported, "The epoll transport is Linux's.");
        var connected = new TaskCompletionSource<Connection>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(
            async connection =>
            {
                connected.TrySetResult(connection);
                await connection.Transport.Input.ReadAsync();
            },
            options => options.Transport = TransportKind.Linux);
        using var sent = new SentBatches(server);
        using var client = await server.ConnectAsync();
        var connection = await connected.Task;

        Assert.Equal(SendStatus.Queued, await connection.SendAsync("pushed\n"u8.ToArray(), TestContext.Current.CancellationToken));

        Assert.Equal("pushed\n", Encoding.ASCII.GetString(await client.ReceiveExactlyAsync(7)));
        var batch = Assert.Single(await sent.WaitForAsync(1));
        Assert.StartsWith(LoopThreadPrefix, batch.Thread, StringComparison.Ordinal);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task What_an_inline_handler_broadcasts_from_one_receive_leaves_for_each_member_in_one_batch_on_its_loop()
    {
        Assert.SkipUnless(LinuxTransport.IsSupported, "The epoll transport is Linux's.");
        const int Members = 3;
        const int Lines = 20;
        var group = new ConnectionGroup();
        await using var server = await TestServer.StartAsync(
            async connection =>
            {
                group.Add(connection);
                await foreach (var line in connection.ReadMessagesAsync(s_lines))
                {
                    await group.BroadcastMessageAsync(s_lines, line, except: connection);
                }
            },
            options =>
            {
                options.InlineScheduling = true;
                options.Transport = TransportKind.Linux;
            });
        using var sent = new SentBatches(server);
        var members = new List<TestClient>();
        for (var i = 0; i < Members; i++)
        {
            members.Add(await server.ConnectAsync());
        }

        using var publisher = await server.ConnectAsync();
        await PushTests.WaitUntilAsync(() => group.Count == Members + 1);

        // One write, one segment on loopback, one receive: the handler broadcasts all 20 lines in one round of its loop.
        var text = string.Concat(Enumerable.Range(0, Lines).Select(i => $"line {i:D2}\n"));
        await publisher.SendAsync(text);

        foreach (var member in members)
        {
            Assert.Equal(text, Encoding.ASCII.GetString(await member.ReceiveExactlyAsync(text.Length)));
            member.Dispose();
        }

        // Drained once the round was done, each member's 20 messages were one batch; drained at once, from the thread
        // pool, the first would often have left alone.
        var batches = await sent.WaitForAsync(Members);
        Assert.All(batches, batch => Assert.Equal(Lines, batch.Messages));
        Assert.All(batches, batch => Assert.StartsWith(LoopThreadPrefix, batch.Thread, StringComparison.Ordinal));
    }

    /// <summary>The server's pushed-message batches (<c>sockeye.messages</c>, transmit) and the threads that counted them.</summary>
    private sealed class SentBatches : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentQueue<(long Messages, string? Thread)> _batches = new();

        public SentBatches(TestServer server)
        {
            var meter = server.Server.Context.Metrics.Meter;
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (ReferenceEquals(instrument.Meter, meter) && instrument.Name == "sockeye.messages")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag is { Key: "network.io.direction", Value: "transmit" })
                    {
                        _batches.Enqueue((value, Thread.CurrentThread.Name));
                    }
                }
            });
            _listener.Start();
        }

        public async Task<(long Messages, string? Thread)[]> WaitForAsync(int count)
        {
            await PushTests.WaitUntilAsync(() => _batches.Count >= count);
            return [.. _batches];
        }

        public void Dispose() => _listener.Dispose();
    }
}
