using System.Buffers;
using System.Threading.Channels;

namespace Sockeye.Handlers;

/// <summary>
/// Formats records on the handler's thread and writes them from one background task, flushing whenever the
/// queue runs empty: one write call per burst instead of one per line, and lines never interleave.
/// </summary>
internal sealed class QueuedOutput : HandlerOutput
{
    // Enough to absorb bursts; when a terminal cannot keep up, handlers wait rather than memory growing.
    private const int QueueCapacity = 4096;

    private readonly TextWriter _writer;
    private readonly OutputFormat _format;
    private readonly Channel<string> _queue = Channel.CreateBounded<string>(
        new BoundedChannelOptions(QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    private readonly Task _writing;

    public QueuedOutput(TextWriter writer, OutputFormat format)
    {
        _writer = writer;
        _format = format;
        _writing = Task.Run(WriteLoopAsync);
    }

    public override ValueTask MessageReceivedAsync(Connection connection, ReadOnlySequence<byte> message) =>
        EnqueueAsync(_format.Received(connection, message));

    public override ValueTask MessageSentAsync(Connection connection, long byteCount) =>
        EnqueueAsync(_format.Sent(connection, byteCount));

    public override async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writing.ConfigureAwait(false);
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

    private async Task WriteLoopAsync()
    {
        var reader = _queue.Reader;
        var broken = false;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var record))
            {
                if (!broken)
                {
                    broken = !await TryWriteAsync(() => _writer.WriteAsync(record)).ConfigureAwait(false);
                }
            }

            if (!broken)
            {
                broken = !await TryWriteAsync(_writer.FlushAsync).ConfigureAwait(false);
            }
        }
    }

    private static async Task<bool> TryWriteAsync(Func<Task> write)
    {
        try
        {
            await write().ConfigureAwait(false);
            return true;
        }
        catch (IOException)
        {
            // The reader of our output went away (a closed pipe). Keep draining the queue so handlers
            // never wait on it, and write nothing more.
            return false;
        }
    }
}
