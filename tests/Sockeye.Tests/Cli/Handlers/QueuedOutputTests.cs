using System.Collections.Concurrent;
using System.Text;
using Sockeye.Cli.Handlers;
using Sockeye.Transport;

namespace Sockeye.Tests.Cli.Handlers;

public class QueuedOutputTests
{
    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_lone_record_is_written_at_once_and_those_that_come_while_the_writer_rests_share_one_flush()
    {
        var cancellation = TestContext.Current.CancellationToken;
        var stream = new FlushRecordingStream();
        using var resting = new SemaphoreSlim(0);
        using var wake = new SemaphoreSlim(0);
        var output = new QueuedOutput(stream, new TextFormat(), () =>
        {
            resting.Release();
            wake.Wait(cancellation);
        });
        var connection = new InMemoryConnection();

        await output.MessageSentAsync(connection, 1);
        await resting.WaitAsync(cancellation);
        Assert.Equal(["Sent 1 bytes to client.\n"], stream.Flushes);

        await output.MessageSentAsync(connection, 2);
        await output.MessageSentAsync(connection, 3);
        wake.Release();
        await resting.WaitAsync(cancellation);
        Assert.Equal(["Sent 1 bytes to client.\n", "Sent 2 bytes to client.\nSent 3 bytes to client.\n"], stream.Flushes);

        wake.Release();
        await output.DisposeAsync();
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Once_the_writer_fails_nothing_more_is_written_and_handlers_never_wait_on_the_queue()
    {
        var stream = new FailingStream();
        var output = new QueuedOutput(stream, new TextFormat(), static () => { });
        var connection = new InMemoryConnection();

        // Far more than the queue holds (about 1.7 MiB of lines against 1 MiB): each would wait for room if the output
        // went on queueing records that nobody writes.
        for (var i = 0; i < 60_000; i++)
        {
            await output.MessageSentAsync(connection, i);
        }

        await output.DisposeAsync();

        Assert.Equal(1, stream.Attempts);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_handler_waits_while_the_queue_is_full_and_every_line_is_written_in_order()
    {
        var cancellation = TestContext.Current.CancellationToken;
        var stream = new FlushRecordingStream();
        using var resting = new SemaphoreSlim(0);
        using var wake = new SemaphoreSlim(0);
        var paused = true;
        var output = new QueuedOutput(stream, new TextFormat(), () =>
        {
            if (Volatile.Read(ref paused))
            {
                resting.Release();
                wake.Wait(cancellation);
            }
        });
        var connection = new InMemoryConnection();
        await output.MessageSentAsync(connection, 0);
        await resting.WaitAsync(cancellation);

        // The writer rests: records queue up until the queue is full, and the next one waits.
        var count = 1;
        ValueTask waiting;
        while ((waiting = output.MessageSentAsync(connection, count++)).IsCompleted)
        {
            Assert.True(count < 100_000, "the queue never filled");
        }

        Assert.True(count > 30_000, $"the queue held only {count} lines");
        Assert.False(waiting.IsCompleted);

        // The writer takes what waits, which makes room.
        Volatile.Write(ref paused, false);
        wake.Release();
        await waiting;
        await output.DisposeAsync();
        var lines = string.Concat(stream.Flushes).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"Sent {i} bytes to client."), lines);
    }

    /// <summary>A stream whose reader went away, as a closed pipe.</summary>
    private sealed class FailingStream : MemoryStream
    {
        private int _attempts;

        public int Attempts => Volatile.Read(ref _attempts);

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            Interlocked.Increment(ref _attempts);
            throw new IOException("Broken pipe");
        }
    }

    /// <summary>Keeps the text each flush sent on.</summary>
    private sealed class FlushRecordingStream : MemoryStream
    {
        private readonly ConcurrentQueue<string> _flushes = new();
        private int _flushed;

        public IReadOnlyList<string> Flushes => [.. _flushes];

        public override void Flush()
        {
            var bytes = ToArray();
            _flushes.Enqueue(Encoding.UTF8.GetString(bytes.AsSpan(_flushed)));
            _flushed = bytes.Length;
        }
    }
}
