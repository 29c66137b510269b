using System.Buffers;
using System.Threading.Channels;

namespace Sockeye.Cli.Handlers;

/// <summary>
/// Formats records on the handler's thread and writes them from a thread of its own, flushing whenever the queue
/// runs empty: one write call per burst instead of one per line, and lines never interleave.
/// </summary>
/// <remarks>
/// A thread of its own rather than a task: under load the writer never waits for records, only rests between
/// flushes, and a rest on the thread pool would cost a timer and a pool thread's wake-up each time.
/// </remarks>
internal sealed class QueuedOutput : HandlerOutput
{
    // Enough to absorb bursts; when a terminal cannot keep up, handlers wait rather than memory growing.
    private const int QueueCapacity = 4096;

    // After each flush the writer rests this long before it looks at the queue again. Under load, records come every
    // few microseconds: without the rest, each would wake the writer and cost a flush of its own; with it, a
    // millisecond's records go out in one. A record that comes alone is still written at once.
    private static readonly TimeSpan s_rest = TimeSpan.FromMilliseconds(1);

    private readonly TextWriter _writer;
    private readonly OutputFormat _format;
    private readonly Channel<string> _queue = Channel.CreateBounded<string>(
        new BoundedChannelOptions(QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    private readonly Action _rest;
    private readonly TaskCompletionSource _written = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public QueuedOutput(TextWriter writer, OutputFormat format)
        : this(writer, format, static () => Thread.Sleep(s_rest))
    {
    }

    /// <param name="writer">Where the lines go.</param>
    /// <param name="format">How records become lines.</param>
    /// <param name="rest">What the writer does after each flush, before it looks at the queue again.</param>
    internal QueuedOutput(TextWriter writer, OutputFormat format, Action rest)
    {
        _writer = writer;
        _format = format;
        _rest = rest;
        new Thread(WriteLoop) { IsBackground = true, Name = "sockeye-output" }.UnsafeStart();
    }

    public override ValueTask MessageReceivedAsync(Connection connection, ReadOnlySequence<byte> message) =>
        EnqueueAsync(_format.Received(connection, message));

    public override ValueTask MessageSentAsync(Connection connection, long byteCount) =>
        EnqueueAsync(_format.Sent(connection, byteCount));

    public override async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _written.Task.ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }

    private ValueTask EnqueueAsync(string record) =>
        _queue.Writer.TryWrite(record) ? ValueTask.CompletedTask : WaitToEnqueueAsync(record);

    private async ValueTask WaitToEnqueueAsync(string record)
    {
        // Full: wait for room. Closed (the output was disposed while a handler still ran): drop the record.
        while (await _queue.Writer.WaitToWriteAsync().ConfigureAwait(false))
        {
            if (_queue.Writer.TryWrite(record))
            {
                return;
            }
        }
    }

#pragma warning disable CA1031 // The thread's fault goes to whoever disposes the output, as a task's would.
    private void WriteLoop()
    {
        try
        {
            var reader = _queue.Reader;
            var broken = false;
            while (WaitToRead(reader))
            {
                if (broken)
                {
                    // Keep draining the queue so handlers never wait on it, and write nothing more.
                    while (reader.TryRead(out _))
                    {
                    }
                }
                else
                {
                    broken = !TryWriteQueued(reader);
                }

                _rest();
            }

            _written.TrySetResult();
        }
        catch (Exception ex)
        {
            _written.TrySetException(ex);
        }
    }
#pragma warning restore CA1031

    /// <summary>
    /// True when records wait; blocks while the queue is empty (this is the output's own thread, never a pool
    /// thread); false once the queue is completed and empty.
    /// </summary>
    private static bool WaitToRead(ChannelReader<string> reader)
    {
        var waiting = reader.WaitToReadAsync();
        return waiting.IsCompletedSuccessfully ? waiting.Result : waiting.AsTask().GetAwaiter().GetResult();
    }

    /// <summary>Writes what is queued and flushes; false when the reader of our output went away (a closed pipe).</summary>
    private bool TryWriteQueued(ChannelReader<string> reader)
    {
        try
        {
            while (reader.TryRead(out var record))
            {
                _writer.Write(record);
            }

            _writer.Flush();
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }
}
