using System.Text;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;
using Sockeye.Framing;
using Sockeye.Handlers;
using Sockeye.Messaging;
using Sockeye.Testing;
using Sockeye.Tests.Diagnostics;
using Sockeye.Tests.Infrastructure;
using TestServer = Sockeye.Tests.Infrastructure.TestServer;

namespace Sockeye.Tests.Messaging;

/// <summary>A client that reads slower than the server pushes to it, under each policy: memory stays within the bound.</summary>
public class SlowConsumerTests
{
    private const int Bound = 8 * 1024;
    private static readonly LineFramer s_lines = new();
    private static readonly byte[] s_message = Encoding.ASCII.GetBytes(new string('x', 999));

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Disconnect_ends_a_client_that_falls_behind_as_a_slow_reader()
    {
        await using var test = Start(OutboundQueuePolicy.Disconnect);
        var queue = QueueOf(test.Connection);

        // The client reads nothing: the output fills, then the queue, then the connection is cut.
        var statuses = new List<SendStatus>();
        for (var i = 0; i < 1000 && statuses.LastOrDefault() != SendStatus.Closed; i++)
        {
            statuses.Add(await test.Connection.SendMessageAsync(s_lines, s_message, Token));
            Assert.InRange(queue.Size, 0, Bound);
        }

        Assert.Equal(SendStatus.Closed, statuses[^1]);
        Assert.All(statuses[..^1], status => Assert.Equal(SendStatus.Queued, status));
        await test.Completion.WithTestTimeout();
        Assert.Equal(ConnectionEndReason.SlowReader, test.Connection.EndReason);
        Assert.Equal(0, queue.Size);
        Assert.Equal(SendStatus.Closed, await test.Connection.SendMessageAsync(s_lines, s_message, Token));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Disconnect_waits_the_grace_for_room_before_ending_a_client_that_has_stopped_reading()
    {
        var time = new FakeTimeProvider();
        var hold = new TaskCompletionSource();
        await using var test = Start(OutboundQueuePolicy.Disconnect, hold.Task, TimeSpan.FromSeconds(5), time);
        var queue = QueueOf(test.Connection);
        try
        {
            // The handler holds its output, so nothing drains: the queue fills to its bound, and the next send waits.
            var waiting = test.Connection.SendMessageAsync(s_lines, s_message, Token).AsTask();
            for (var sent = 0; waiting.IsCompleted && sent < 1000; sent++)
            {
                Assert.Equal(SendStatus.Queued, await waiting);
                waiting = test.Connection.SendMessageAsync(s_lines, s_message, Token).AsTask();
            }

            Assert.False(waiting.IsCompleted);
            time.Advance(TimeSpan.FromSeconds(4.9));
            Assert.False(waiting.IsCompleted);
            Assert.Equal(ConnectionEndReason.None, test.Connection.EndReason);

            time.Advance(TimeSpan.FromSeconds(0.2));
            Assert.Equal(SendStatus.Closed, await waiting.WithTestTimeout());
            Assert.Equal(ConnectionEndReason.SlowReader, test.Connection.EndReason);
            Assert.Equal(0, queue.Size);
        }
        finally
        {
            hold.TrySetResult();
        }
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task One_client_flooding_a_room_is_slowed_to_its_readers_pace_instead_of_cutting_them_off()
    {
        // Was: the flood filled the readers' queues faster than the server could send to them, and every reader, reading
        // as fast as it could, was ended as SlowReader (300 lines of 4 KB cut off all three readers of samples/Chat).
        const int Lines = 300;
        var line = Encoding.ASCII.GetBytes(new string('y', 4000) + "\n");
        var room = new ConnectionGroup();
        var framer = new LineFramer { MaxMessageSize = 4096 };
        await using var server = await TestServer.StartAsync(
            async connection =>
            {
                room.Add(connection);
                await foreach (var message in connection.ReadMessagesAsync(framer))
                {
                    await room.BroadcastMessageAsync(framer, message, except: connection);
                }
            },
            // A grace no reader that reads comes near, even on a loaded machine: the test is of the pacing, not the clock.
            options => options.SlowReaderGrace = TimeSpan.FromSeconds(20));

        var readers = new List<TestClient>();
        for (var i = 0; i < 3; i++)
        {
            readers.Add(await server.ConnectAsync());
        }

        using var flooder = await server.ConnectAsync();
        await WaitUntilAsync(() => room.Count == 4);

        var reading = readers.Select(reader => reader.ReceiveExactlyAsync(Lines * line.Length)).ToList();
        for (var i = 0; i < Lines; i++)
        {
            await flooder.SendAsync(line);
        }

        foreach (var received in await Task.WhenAll(reading))
        {
            Assert.Equal(Lines * line.Length, received.Length);
        }

        foreach (var reader in readers)
        {
            reader.Dispose();
        }
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task DropNewest_drops_what_does_not_fit_and_the_client_later_gets_the_rest_in_order()
    {
        await using var test = Start(OutboundQueuePolicy.DropNewest);
        var queue = QueueOf(test.Connection);

        var queued = new List<int>();
        var dropped = 0;
        for (var i = 0; i < 500; i++)
        {
            var status = await test.Connection.SendMessageAsync(s_lines, Numbered(i), Token);
            Assert.NotEqual(SendStatus.Closed, status);
            if (status == SendStatus.Queued)
            {
                queued.Add(i);
            }
            else
            {
                dropped++;
            }

            Assert.InRange(queue.Size, 0, Bound);
        }

        Assert.True(dropped > 0);
        Assert.Equal(ConnectionEndReason.None, test.Connection.EndReason);

        // Once the client reads, what was queued arrives whole and in order, and sending works again.
        var expected = queued.Count;
        var reading = ReadLinesAsync(test, expected + 1);
        await WaitForRoomAsync(test.Connection, queue);
        Assert.Equal(SendStatus.Queued, await test.Connection.SendMessageAsync(s_lines, Numbered(500), Token));
        var lines = await reading.WithTestTimeout();
        Assert.Equal([.. queued.Select(i => Encoding.ASCII.GetString(Numbered(i))), Encoding.ASCII.GetString(Numbered(500))], lines);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Wait_holds_the_sender_until_there_is_room_and_the_wait_can_be_cancelled()
    {
        // The handler holds its output (memory asked for, not yet advanced), so nothing drains until it lets go.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var test = Start(OutboundQueuePolicy.Wait, release.Task);
        var queue = QueueOf(test.Connection);

        var next = 0;
        ValueTask<SendStatus> waiting;
        while (true)
        {
            waiting = test.Connection.SendMessageAsync(s_lines, Numbered(next++), Token);
            if (!waiting.IsCompleted)
            {
                break;
            }

            Assert.Equal(SendStatus.Queued, await waiting);
            Assert.InRange(queue.Size, 0, Bound);
        }

        // A second sender behind the first, whose wait is cancelled: its message is never sent.
        using var cancel = new CancellationTokenSource();
        var cancelled = test.Connection.SendMessageAsync(s_lines, "never"u8, cancel.Token);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await cancelled);
        Assert.False(waiting.IsCompleted);
        Assert.InRange(queue.Size, 0, Bound);

        // The handler lets go and the client reads: the waiting send is queued, after everything before it.
        var reading = ReadLinesAsync(test, next);
        release.SetResult();
        Assert.Equal(SendStatus.Queued, await waiting.AsTask().WithTestTimeout());
        var lines = await reading.WithTestTimeout();
        Assert.Equal(Enumerable.Range(0, next).Select(i => Encoding.ASCII.GetString(Numbered(i))), lines);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_client_that_never_reads_is_ended_as_a_slow_reader_logged_and_counted_while_another_goes_on()
    {
        await using var server = await TestServer.StartAsync(new EchoHandler(s_lines), options =>
        {
            options.MaxOutboundQueueSize = 64 * 1024;
            options.MaxSendBufferSize = 64 * 1024;
        });
        using var disconnects = MetricsTests.Collect<long>(server, "sockeye.outbound.slow_consumer_disconnects");
        using var queued = MetricsTests.Collect<long>(server, "sockeye.outbound.queued_bytes");
        await using var stalled = await LineClient.ConnectAsync(server, receiveBufferSize: 4096);
        await using var reader = await LineClient.ConnectAsync(server);
        while (server.Server.Connections.Count() < 2)
        {
            await Task.Delay(5, Token);
        }

        var connections = server.Server.Connections.OrderBy(c => c.Id).ToArray();
        var group = new ConnectionGroup();
        Assert.All(connections, c => Assert.True(group.Add(c)));

        // Broadcast until the stalled client is cut off; the reading one, never more than a few messages behind (the
        // window), gets every message.
        var message = Encoding.ASCII.GetBytes(new string('y', 8 * 1024));
        using var window = new SemaphoreSlim(4);
        var reading = Task.Run(async () =>
        {
            var read = 0;
            try
            {
                while (true)
                {
                    await reader.ReadLinesAsync(1);
                    read++;
                    window.Release();
                }
            }
            catch (EndOfStreamException)
            {
                return read;
            }
        }, Token);
        var sent = 0;
        while (connections[0].EndReason == ConnectionEndReason.None && sent < 5_000)
        {
            await window.WaitAsync(Token);
            await group.BroadcastMessageAsync(s_lines, message, cancellationToken: Token);
            sent++;
        }

        Assert.Equal(ConnectionEndReason.SlowReader, connections[0].EndReason);
        Assert.Equal(ConnectionEndReason.None, connections[1].EndReason);
        await server.Logs.WaitForAsync(r => r.EventId.Id == 60);
        Assert.Equal(1, disconnects.GetMeasurementSnapshot().EvaluateAsCounter());
        await WaitUntilAsync(() => group.Count == 1);

        // The reader goes on: it gets all of it, then the end when the server stops.
        await server.Server.StopAsync(Token);
        Assert.Equal(sent, await reading.WithTestTimeout());
        Assert.Equal(0, queued.GetMeasurementSnapshot().EvaluateAsCounter());
    }

    private static TestConnection Start(OutboundQueuePolicy policy, Task? holdOutputUntil = null, TimeSpan? slowReaderGrace = null, TimeProvider? time = null)
    {
        var options = new SocketServerOptions { MaxOutboundQueueSize = Bound, OutboundQueuePolicy = policy };
        options.SlowReaderGrace = slowReaderGrace ?? options.SlowReaderGrace;
        return TestConnection.Start(ConnectionHandler.Create(async connection =>
        {
            if (holdOutputUntil is not null)
            {
                connection.Transport.Output.GetMemory();
                await holdOutputUntil;
                connection.Transport.Output.Advance(0);
            }

            // Reads until the client goes (or the connection is cut): the pushes go out while it waits.
            var input = connection.Transport.Input;
            while (true)
            {
                var result = await input.ReadAsync();
                input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    return;
                }
            }
        }), options, time);
    }

    private static OutboundQueue QueueOf(Connection connection)
    {
        // Created by the first send (of nothing).
        Assert.Equal(SendStatus.Queued, connection.SendAsync(ReadOnlyMemory<byte>.Empty, Token).AsTask().Result);
        return ((GuardedOutput)connection.Transport.Output).Pushes!;
    }

    private static byte[] Numbered(int i) => Encoding.ASCII.GetBytes($"{i:D5} " + new string('x', 993));

    private static async Task<List<string>> ReadLinesAsync(TestConnection test, int count)
    {
        var lines = new List<string>();
        await foreach (var line in test.Input.ReadMessagesAsync(s_lines, Token))
        {
            lines.Add(Encoding.ASCII.GetString(line));
            if (lines.Count == count)
            {
                break;
            }
        }

        return lines;
    }

    private static async Task WaitForRoomAsync(Connection connection, OutboundQueue queue)
    {
        while (queue.Size > 0)
        {
            await Task.Delay(2, Token);
        }

        _ = connection;
    }

    private static Task WaitUntilAsync(Func<bool> condition) => PushTests.WaitUntilAsync(condition);
}
