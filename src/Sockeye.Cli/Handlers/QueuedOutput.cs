using System.Buffers;

namespace Sockeye.Cli.Handlers;

/// <summary>
/// Formats records as UTF-8 straight into a queue of bytes, on the handler's thread, and writes them from a thread of
/// its own, flushing whenever the queue runs empty: one write call per burst (per 64 KiB of it) instead of one per
/// line, lines never interleave, and a record costs no string of its own.
/// </summary>
/// <remarks>
/// <para>
/// A thread of its own rather than a task: under load the writer never waits for records, only rests between
/// flushes, and a rest on the thread pool would cost a timer and a pool thread's wake-up each time.
/// </para>
/// <para>
/// When the queue is full, handlers wait for room: a slow reader of the output slows the clients, and loses nothing.
/// Once the server stops, a handler whose connection has ended (the stop aborted it when its drain timeout passed, or
/// the client went away) waits no more: its record is queued past the bound, so the stop is never held up by the
/// output. Closing writes what is queued while the stream takes bytes, and gives up on a stream that takes none (a pipe
/// nobody reads), reporting what was not written (<see cref="CloseAsync"/>).
/// </para>
/// </remarks>
internal sealed class QueuedOutput : HandlerOutput
{
    // Enough to absorb bursts; when the output cannot keep up, handlers wait rather than memory growing. A record
    // that finds room is written whole, so the queue may pass this by one record for each handler.
    private const int CapacityBytes = 1024 * 1024;

    // What each of the two buffers starts with; one that a large record grew past this is not kept.
    private const int BufferSize = 64 * 1024;

    // The most each write call is given: a pipe's capacity, so that a slow reader returns it now and then, which
    // tells closing that the stream still takes bytes.
    private const int WriteSize = 64 * 1024;

    // After each flush the writer rests this long before it looks at the queue again. Under load, records come every
    // few microseconds: without the rest, each would wake the writer and cost a flush of its own; with it, a
    // millisecond's records go out in one. A record that comes alone is still written at once.
    private static readonly TimeSpan s_rest = TimeSpan.FromMilliseconds(1);

    private readonly Stream _stream;
    private readonly OutputFormat _format;
    private readonly Action _rest;
    private readonly WriteProgress _progress;
    private readonly TaskCompletionSource _written = new(TaskCreationOptions.RunContinuationsAsynchronously);
    // A monitor, not a Lock: the writer waits on it for records.
    private readonly object _lock = new();

    // Under the lock: where handlers write records. The spare is the writer's: emptied after each write, it becomes
    // the next pending buffer when the writer takes a batch.
    private ArrayBufferWriter<byte> _pending = new(BufferSize);
    private ArrayBufferWriter<byte>? _spare = new(BufferSize);

    // Under the lock: handlers that wait for room; the writer waits for records; the output is closing.
    private TaskCompletionSource? _room;
    private bool _writerWaiting;
    private bool _completed;
    private Task<OutputLoss?>? _closing;

    // Under the lock: the batch the writer is writing, and how much of it the stream has taken (written by the writer
    // alone, read when closing gives up).
    private ArrayBufferWriter<byte>? _writing;
    private int _writingDone;

    // Set by the writer when the reader of our output went away (a closed pipe): records are dropped from then on,
    // and counted (under the lock), so that closing can say what was lost.
    private volatile bool _broken;
    private long _lostLines;
    private long _lostBytes;

    // Set when closing gave up on a stream that takes nothing: the writer writes no more, and records are dropped.
    private volatile bool _abandoned;

    public QueuedOutput(Stream stream, OutputFormat format)
        : this(stream, format, static () => Thread.Sleep(s_rest))
    {
    }

    /// <param name="stream">Where the lines go.</param>
    /// <param name="format">How records become lines.</param>
    /// <param name="rest">What the writer does after each flush, before it looks at the queue again.</param>
    /// <param name="timeProvider">The clock that closing gives up by; the system clock by default.</param>
    internal QueuedOutput(Stream stream, OutputFormat format, Action rest, TimeProvider? timeProvider = null)
    {
        _stream = stream;
        _format = format;
        _rest = rest;
        _progress = new WriteProgress(timeProvider ?? TimeProvider.System);
        new Thread(WriteLoop) { IsBackground = true, Name = "sockeye-output" }.UnsafeStart();
    }

    public override ValueTask MessageReceivedAsync(Connection connection, ReadOnlySequence<byte> message) =>
        EnqueueAsync(new Record(connection, message, message.Length, IsReceived: true));

    public override ValueTask MessageSentAsync(Connection connection, long byteCount) =>
        EnqueueAsync(new Record(connection, ReadOnlySequence<byte>.Empty, byteCount, IsReceived: false));

    public override ValueTask<OutputLoss?> CloseAsync(CancellationToken abort = default)
    {
        lock (_lock)
        {
            return new(_closing ??= CloseCoreAsync(abort));
        }
    }

    private async Task<OutputLoss?> CloseCoreAsync(CancellationToken abort)
    {
        TaskCompletionSource? room;
        lock (_lock)
        {
            // Handlers that still run (those the stop could not end) queue past the bound from now on.
            _completed = true;
            room = TakeRoomWaitersLocked();
            WakeWriterLocked();
        }

        room?.TrySetResult();
        if (await _progress.WaitAsync(_written.Task, abort).ConfigureAwait(false))
        {
            await _written.Task.ConfigureAwait(false);
            lock (_lock)
            {
                return _lostBytes > 0 ? new OutputLoss(_lostLines, _lostBytes, StreamClosed: true) : null;
            }
        }

        lock (_lock)
        {
            _abandoned = true;
            return UnwrittenLocked();
        }
    }

    private ValueTask EnqueueAsync(in Record record)
    {
        lock (_lock)
        {
            if (TryWriteLocked(record))
            {
                return ValueTask.CompletedTask;
            }
        }

        return WaitToEnqueueAsync(record);
    }

    private async ValueTask WaitToEnqueueAsync(Record record)
    {
        // Full: wait for the writer to take what waits. The record's bytes stay the handler's until this completes.
        var connection = record.Connection;
        while (true)
        {
            Task room;
            lock (_lock)
            {
                if (TryWriteLocked(record))
                {
                    return;
                }

                room = (_room ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }

            // While the server serves, only room ends the wait; once it stops, the end of the connection does too.
            var stop = connection.ServerDraining.IsCancellationRequested ? connection.ConnectionClosed : connection.ServerDraining;
            await room.WaitAsync(stop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>
    /// Under the lock: writes the record, or drops it once nothing more will be written; false when full, unless the
    /// record may pass the bound.
    /// </summary>
    private bool TryWriteLocked(in Record record)
    {
        if (_abandoned)
        {
            // Closing gave up on the output: the record is dropped.
            return true;
        }

        // Once the reader has gone, records still queue, never waiting, for the writer to count as lost.
        if (!_broken && _pending.WrittenCount >= CapacityBytes && !_completed && !IsLetGo(record.Connection))
        {
            return false;
        }

        if (record.IsReceived)
        {
            _format.WriteReceived(_pending, record.Connection, record.Message);
        }
        else
        {
            _format.WriteSent(_pending, record.Connection, record.ByteCount);
        }

        WakeWriterLocked();
        return true;
    }

    /// <summary>
    /// Whether the connection's handler no longer waits for room: the server is stopping and the connection has ended.
    /// Past the bound, each such handler queues the reports of what its connection had received, and there are no more
    /// of them than the server's connection limit.
    /// </summary>
    private static bool IsLetGo(Connection connection) =>
        connection.ServerDraining.IsCancellationRequested && connection.ConnectionClosed.IsCancellationRequested;

    /// <summary>Under the lock: the lines and bytes queued that the stream has not taken.</summary>
    private OutputLoss? UnwrittenLocked()
    {
        var pending = _pending.WrittenSpan;
        var writing = _writing is { } batch ? batch.WrittenSpan[Volatile.Read(ref _writingDone)..] : [];
        var bytes = pending.Length + writing.Length;
        return bytes == 0 ? null : new OutputLoss(pending.Count((byte)'\n') + writing.Count((byte)'\n'), bytes);
    }

    private void WakeWriterLocked()
    {
        if (_writerWaiting)
        {
            _writerWaiting = false;
            Monitor.Pulse(_lock);
        }
    }

    private TaskCompletionSource? TakeRoomWaitersLocked()
    {
        var room = _room;
        _room = null;
        return room;
    }

#pragma warning disable CA1031 // The thread's fault goes to whoever disposes the output, as a task's would.
    private void WriteLoop()
    {
        try
        {
            while (TakeBatch() is { } batch)
            {
                var wasBroken = _broken;
                if (!wasBroken)
                {
                    _broken = !TryWrite(batch.WrittenSpan);
                }

                // No handler writes to it until the writer's next turn hands it back. One that a large record grew
                // is let go rather than kept for the life of the process.
                lock (_lock)
                {
                    if (_broken)
                    {
                        // What the stream did not take of this batch, all of it once the reader had gone.
                        var lost = batch.WrittenSpan[(wasBroken ? 0 : Volatile.Read(ref _writingDone))..];
                        _lostLines += lost.Count((byte)'\n');
                        _lostBytes += lost.Length;
                    }

                    _writing = null;
                    _spare = batch.Capacity > BufferSize ? new ArrayBufferWriter<byte>(BufferSize) : Reset(batch);
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

    private static ArrayBufferWriter<byte> Reset(ArrayBufferWriter<byte> buffer)
    {
        buffer.ResetWrittenCount();
        return buffer;
    }

    /// <summary>
    /// The records that wait, taken whole; blocks while there are none (this is the output's own thread, never a pool
    /// thread); null once the output is disposed and everything is taken.
    /// </summary>
    private ArrayBufferWriter<byte>? TakeBatch()
    {
        TaskCompletionSource? room;
        ArrayBufferWriter<byte> batch;
        lock (_lock)
        {
            while (_pending.WrittenCount == 0)
            {
                if (_completed)
                {
                    return null;
                }

                _writerWaiting = true;
                Monitor.Wait(_lock);
            }

            batch = _pending;
            _pending = _spare!;
            _spare = null;
            _writing = batch;
            _writingDone = 0;
            room = TakeRoomWaitersLocked();
        }

        room?.TrySetResult();
        return batch;
    }

    /// <summary>
    /// Writes a batch and flushes, unless closing gives up on the stream meanwhile; false when the reader of our output
    /// went away (a closed pipe).
    /// </summary>
    private bool TryWrite(ReadOnlySpan<byte> batch)
    {
        try
        {
            var done = 0;
            while (done < batch.Length && !_abandoned)
            {
                var part = batch.Slice(done, Math.Min(WriteSize, batch.Length - done));
                _stream.Write(part);
                done += part.Length;
                Volatile.Write(ref _writingDone, done);
                _progress.Mark();
            }

            _stream.Flush();
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>One event to report: what the format needs to write it.</summary>
    private readonly record struct Record(Connection Connection, ReadOnlySequence<byte> Message, long ByteCount, bool IsReceived);
}
