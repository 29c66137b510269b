using System.Collections.Concurrent;
using Sockeye.Cli.Handlers;
using Sockeye.Transport;

namespace Sockeye.Tests.Cli.Handlers;

public class QueuedOutputTests
{
    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_lone_record_is_written_at_once_and_those_that_come_while_the_writer_rests_share_one_flush()
    {
        var cancellation = TestContext.Current.CancellationToken;
        var writer = new FlushRecordingWriter();
        using var resting = new SemaphoreSlim(0);
        using var wake = new SemaphoreSlim(0);
        var output = new QueuedOutput(writer, new TextFormat(), () =>
        {
            resting.Release();
            wake.Wait(cancellation);
        });
        var connection = new InMemoryConnection();

        await output.MessageSentAsync(connection, 1);
        await resting.WaitAsync(cancellation);
        Assert.Equal(["Sent 1 bytes to client.\n"], writer.Flushes);

        await output.MessageSentAsync(connection, 2);
        await output.MessageSentAsync(connection, 3);
        wake.Release();
        await resting.WaitAsync(cancellation);
        Assert.Equal(["Sent 1 bytes to client.\n", "Sent 2 bytes to client.\nSent 3 bytes to client.\n"], writer.Flushes);

        wake.Release();
        await output.DisposeAsync();
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Once_the_writer_fails_nothing_more_is_written_and_handlers_never_wait_on_the_queue()
    {
        var writer = new FailingWriter();
        var output = new QueuedOutput(writer, new TextFormat(), static () => { });
        var connection = new InMemoryConnection();

        // Far more than the queue holds: each would wait for room if the writer stopped draining it.
        for (var i = 0; i < 20_000; i++)
        {
            await output.MessageSentAsync(connection, i);
        }

        await output.DisposeAsync();

        Assert.Equal(1, writer.Attempts);
    }

    /// <summary>A writer whose reader went away, as a closed pipe.</summary>
    private sealed class FailingWriter : StringWriter
    {
        private int _attempts;

        public int Attempts => Volatile.Read(ref _attempts);

        public override void Write(string? value)
        {
            Interlocked.Increment(ref _attempts);
            throw new IOException("Broken pipe");
        }
    }

    /// <summary>Keeps the text each flush sent on.</summary>
    private sealed class FlushRecordingWriter : StringWriter
    {
        private readonly ConcurrentQueue<string> _flushes = new();
        private int _flushed;

        public IReadOnlyList<string> Flushes => [.. _flushes];

        public override void Flush()
        {
            var text = ToString();
            _flushes.Enqueue(text[_flushed..]);
            _flushed = text.Length;
        }
    }
}
