using System.Buffers;
using System.IO.Pipelines;
using Sockeye.Framing;

namespace Sockeye.Messaging;

/// <summary>
/// The writer a handler sees as <c>Transport.Output</c>, on every transport and under every layer. It lets one writer
/// in at a time, failing a second at once with a clear error instead of corrupting the pipe, and it is where messages
/// pushed from other threads (<see cref="Connection.SendAsync(ReadOnlyMemory{byte}, CancellationToken)"/>) join the
/// handler's own bytes without splitting them. See docs/push.md for the design.
/// </summary>
/// <remarks>
/// <para>
/// One word holds who has the writer. A call of the handler's enters with one compare-and-swap and leaves with a plain
/// store; between calls the handler keeps the writer for as long as it holds memory it has not advanced, bytes it has
/// not flushed, or a flush it has not seen complete. Only when it holds none of these may the push drainer take the
/// writer, again with one compare-and-swap, to copy queued messages and flush them. A handler whose call finds the
/// drainer inside waits for it (the drainer only copies bytes and starts a flush; it never awaits while it holds the
/// writer); a second writer of the handler's finds the first one's mark and throws. The first, in turn, never fails for
/// meeting the second's refused call: its Advance waits that call out, so its memory is never left out for good.
/// </para>
/// <para>
/// Every return of the writer to nobody is followed by a look at the push queue, and a drainer that finds the writer held
/// marks the queue, then runs a process-wide memory barrier, before it looks again: one of the two always sees the other,
/// so a pushed message never waits for a writer nobody holds, and a handler's flush pays no fence for it.
/// </para>
/// </remarks>
internal abstract class GuardedOutput : PipeWriter
{
    private const int HandlerCall = 1;
    private const int DrainerCall = 2;
    private const int MemoryOut = 4;
    private const int Unflushed = 8;
    private const int HandlerFlush = 16;
    private const int Completed = 32;

    // With HandlerFlush: the output's pending flush is the handler's own (not the drainer's that the handler waits for),
    // so collecting its result hands the writer back.
    private const int HandlerFlushPending = 64;

    // What the handler holds between calls; the writer is free when none of these (and no call) is set.
    private const int HandlerHolds = MemoryOut | Unflushed | HandlerFlush | HandlerFlushPending;

    // The largest write taken in one piece: a pooled block, so asking for it never allocates.
    private const int WholeWriteLimit = 4096;

    internal const string ConcurrentWriteMessage =
        "Concurrent writes to a connection's output are not supported: one writer at a time, and each FlushAsync awaited " +
        "before the next write. To send to a connection from other threads or tasks, use Connection.SendAsync or " +
        "Connection.SendMessageAsync, which are thread-safe and never split the handler's own messages.";

    private int _state;
    private int _memoryThread;
    private OutboundQueue? _pushes;

    /// <summary>The connection's push queue, once something was pushed to it.</summary>
    internal OutboundQueue? Pushes => Volatile.Read(ref _pushes);

    public override bool CanGetUnflushedBytes => true;

    /// <summary>Creates the push queue on first use.</summary>
    internal OutboundQueue GetOrCreatePushes(Connection connection, PushSettings settings)
    {
        var pushes = Volatile.Read(ref _pushes);
        if (pushes is null)
        {
            var created = new OutboundQueue(connection, this, settings);
            pushes = Interlocked.CompareExchange(ref _pushes, created, null) ?? created;
        }

        return pushes;
    }

    // ---- The handler's side ----------------------------------------------------------------------------------

    public sealed override Memory<byte> GetMemory(int sizeHint = 0)
    {
        var state = Enter();
        var thread = Environment.CurrentManagedThreadId;
        if ((state & MemoryOut) != 0 && thread != _memoryThread)
        {
            // Memory handed out and not advanced, and asked for again from another thread: a second writer about to
            // write over the first one's bytes. (One writer that asks again does so before it advances, on its thread;
            // one that awaits between GetMemory and Advance advances from wherever it resumes, which is allowed.)
            Leave(state);
            throw new InvalidOperationException(ConcurrentWriteMessage);
        }

        Memory<byte> memory;
        try
        {
            memory = GetMemoryCore(sizeHint);
        }
        catch
        {
            Leave(state);
            throw;
        }

        _memoryThread = thread;
        Leave(state | MemoryOut);
        return memory;
    }

    public sealed override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public sealed override void Advance(int bytes)
    {
        // The writer that holds memory waits out another writer's call rather than failing: a GetMemory or FlushAsync
        // from another thread finds the memory out and is refused at once, while a refused Advance would leave the memory
        // out for good, and every writer after it, on any other thread, refused.
        var state = Enter(holdingMemory: true);
        try
        {
            AdvanceCore(bytes);
        }
        catch
        {
            Leave(state);
            throw;
        }

        state &= ~MemoryOut;
        if (bytes > 0)
        {
            state |= Unflushed;
        }

        if ((state & HandlerHolds) == 0)
        {
            Release(state);
        }
        else
        {
            Leave(state);
        }
    }

    public sealed override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        var state = Enter();
        if ((state & MemoryOut) != 0 && Environment.CurrentManagedThreadId != _memoryThread)
        {
            // Another thread holds memory it has not advanced: flushing now could let go of the block it is writing into.
            Leave(state);
            throw new InvalidOperationException(ConcurrentWriteMessage);
        }

        if (Volatile.Read(ref _pushes) is { } pushes)
        {
            if (pushes.DrainerFlush is { IsCompleted: false } drainerFlush)
            {
                // The drainer's flush is still waiting for the client: ours follows it, or the pipe would see two flushes.
                Leave(state | HandlerFlush);
                return FlushAfterAsync(drainerFlush, cancellationToken);
            }

            // Pushed messages leave in the same send as the handler's bytes, after them.
            try
            {
                pushes.DrainInto(this);
            }
            catch
            {
                Leave(state);
                throw;
            }
        }

        return FlushEntered(state, ReadOnlySequence<byte>.Empty, cancellationToken);
    }

    /// <summary>
    /// Writes <paramref name="data"/> and flushes, as <c>Write</c> and then <see cref="FlushAsync"/> would; an output with
    /// nothing of its own waiting may hand the socket <paramref name="data"/> itself instead of a copy. What is not sent
    /// is copied before this returns, so the caller may let go of <paramref name="data"/> at once.
    /// </summary>
    internal ValueTask<FlushResult> WriteAndFlushAsync(in ReadOnlySequence<byte> data)
    {
        var state = Enter();
        if ((state & (MemoryOut | Unflushed)) != 0 || Volatile.Read(ref _pushes) is not null)
        {
            // Bytes of the writer's own go first, and pushed messages follow it: the ordinary way.
            Leave(state);
            this.Write(data);
            return FlushAsync();
        }

        return FlushEntered(state, data, CancellationToken.None);
    }

    /// <summary>Writes <paramref name="source"/> and flushes. A source that fits in one block is written in one piece.</summary>
    /// <remarks>
    /// The base class copies into whatever room the last block has left, then goes on in the next one: two pieces,
    /// between which another writer's bytes could land. In one piece, a message written this way stays whole even when
    /// another writer misuses the output at the same time (which that writer is told).
    /// </remarks>
    public sealed override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        var span = GetSpan(source.Length <= WholeWriteLimit ? source.Length : 0);
        if (source.Length <= span.Length)
        {
            source.Span.CopyTo(span);
            Advance(source.Length);
        }
        else
        {
            this.Write(source.Span);
        }

        return FlushAsync(cancellationToken);
    }

    public sealed override void CancelPendingFlush() => CancelPendingFlushCore();

    public sealed override void Complete(Exception? exception = null)
    {
        var spin = default(SpinWait);
        while (true)
        {
            var state = Volatile.Read(ref _state);
            if ((state & Completed) != 0)
            {
                return;
            }

            if ((state & HandlerCall) != 0)
            {
                throw new InvalidOperationException(ConcurrentWriteMessage);
            }

            if ((state & DrainerCall) == 0 && Interlocked.CompareExchange(ref _state, HandlerCall, state) == state)
            {
                break;
            }

            spin.SpinOnce();
        }

        try
        {
            // What was pushed before the end goes out before it, as what the handler wrote does; after a failure,
            // nothing more is sent.
            Volatile.Read(ref _pushes)?.Close(exception is null ? this : null);
            CompleteCore(exception);
        }
        finally
        {
            Volatile.Write(ref _state, Completed);
        }
    }

    public override long UnflushedBytes => UnflushedBytesCore;

    // ---- The drainer's side ----------------------------------------------------------------------------------

    /// <summary>Takes the writer for the drainer, if nobody holds it.</summary>
    internal bool TryEnterDrainer() =>
        Volatile.Read(ref _state) == 0 && Interlocked.CompareExchange(ref _state, DrainerCall, 0) == 0;

    /// <summary>The drainer is done with the writer: its bytes are flushed (or the flush is under way).</summary>
    internal void LeaveDrainer() => Volatile.Write(ref _state, 0);

    /// <summary>Nobody holds the writer now (it may be taken the next moment).</summary>
    internal bool IsFree => Volatile.Read(ref _state) == 0;

    /// <summary>The writer was completed: nothing more will be written.</summary>
    internal bool IsCompleted => (Volatile.Read(ref _state) & Completed) != 0;

    /// <summary>
    /// Writes whole messages one after another, <paramref name="bytes"/> in all; the caller holds the writer (the drainer,
    /// or the handler inside a flush). Asks the output for memory once per block rather than once per message, so a batch
    /// of small messages costs a copy each and little else.
    /// </summary>
    internal void WriteHeld(ReadOnlySpan<OutboundMessage?> messages, long bytes)
    {
        var filler = new BlockFiller(this, bytes);
        foreach (var message in messages)
        {
            filler.Append(message!.Span);
        }

        filler.Finish();
    }

    /// <summary>Flushes what the drainer wrote; the drainer holds the writer.</summary>
    internal ValueTask<FlushResult> FlushHeld() => FlushCore(handler: false, CancellationToken.None);

    // ---- What each output implements -------------------------------------------------------------------------

    protected abstract Memory<byte> GetMemoryCore(int sizeHint);

    protected abstract void AdvanceCore(int bytes);

    /// <summary>Flushes, for the handler or for the drainer.</summary>
    /// <remarks>
    /// An output whose <see cref="HooksHandlerFlush"/> is true calls <see cref="HandlerFlushEnded"/> itself when the
    /// handler collects the result of a flush of its that did not complete at once (in <c>GetResult</c>, which runs after
    /// <see cref="FlushAsync"/> has returned). For the others, such a flush is wrapped in an await that does it.
    /// </remarks>
    protected abstract ValueTask<FlushResult> FlushCore(bool handler, CancellationToken cancellationToken);

    /// <summary>
    /// The handler's <see cref="WriteAndFlushAsync"/>, with nothing of its own unflushed and no pushes: copies
    /// <paramref name="data"/> in and flushes as <see cref="FlushCore"/> does. An output that sends may send from
    /// <paramref name="data"/> instead, copying only what the socket did not take.
    /// </summary>
    protected virtual ValueTask<FlushResult> WriteAndFlushCore(in ReadOnlySequence<byte> data, CancellationToken cancellationToken)
    {
        CopyIn(data);
        return FlushCore(handler: true, cancellationToken);
    }

    /// <summary>Copies <paramref name="data"/> in through <see cref="GetMemoryCore"/> and <see cref="AdvanceCore"/>, a block at a time.</summary>
    protected void CopyIn(in ReadOnlySequence<byte> data)
    {
        var filler = new BlockFiller(this, data.Length);
        foreach (var segment in data)
        {
            filler.Append(segment.Span);
        }

        filler.Finish();
    }

    /// <summary>The output tells the gate itself when the handler's pending flush is over; no wrapper is needed.</summary>
    protected virtual bool HooksHandlerFlush => false;

    /// <summary>The output's pending flush is the handler's: when its result is collected, call <see cref="HandlerFlushEnded"/>.</summary>
    protected bool IsHandlerFlushPending => (Volatile.Read(ref _state) & HandlerFlushPending) != 0;

    protected abstract void CancelPendingFlushCore();

    protected abstract void CompleteCore(Exception? exception);

    protected abstract long UnflushedBytesCore { get; }

    /// <summary>The handler's pending flush has completed and the handler has its result: it holds the writer no more.</summary>
    protected void HandlerFlushEnded() => Release(Volatile.Read(ref _state) & Completed);

    // ---- The gate --------------------------------------------------------------------------------------------

    /// <summary>Enters a call of the handler's; returns the state to leave with (without the call's mark).</summary>
    /// <param name="holdingMemory">The caller is <see cref="Advance"/>: with memory out, another writer's call is waited out.</param>
    private int Enter(bool holdingMemory = false)
    {
        var state = Volatile.Read(ref _state);
        if ((state & (HandlerCall | DrainerCall | HandlerFlush)) == 0 && Interlocked.CompareExchange(ref _state, state | HandlerCall, state) == state)
        {
            return state;
        }

        return EnterContended(holdingMemory);
    }

    private int EnterContended(bool holdingMemory)
    {
        var spin = default(SpinWait);
        while (true)
        {
            var state = Volatile.Read(ref _state);
            if (holdingMemory && (state & (HandlerCall | MemoryOut)) == (HandlerCall | MemoryOut))
            {
                // A call of another writer's, which the memory out turns away: a short wait that never blocks on I/O.
                spin.SpinOnce();
                continue;
            }

            if ((state & (HandlerCall | HandlerFlush)) != 0)
            {
                // Another writer is inside a call, or has a flush it has not awaited: this one must not touch the pipe.
                throw new InvalidOperationException(ConcurrentWriteMessage);
            }

            if ((state & DrainerCall) != 0)
            {
                // The drainer copies queued messages and starts their flush, then lets go: a short wait that never blocks on I/O.
                spin.SpinOnce();
                continue;
            }

            if (Interlocked.CompareExchange(ref _state, state | HandlerCall, state) == state)
            {
                return state;
            }
        }
    }

    /// <summary>
    /// Leaves a call, still holding the writer (memory out, bytes unflushed or a flush pending). A plain store: nobody
    /// else writes the word while a call is marked in it.
    /// </summary>
    private void Leave(int state) => Volatile.Write(ref _state, state);

    /// <summary>Leaves holding nothing: the drainer may take the writer now, and if it found it held, it is woken.</summary>
    /// <remarks>
    /// A plain store and plain loads: a drain that finds the writer held marks its queue and then runs a process-wide
    /// barrier before it looks again (<see cref="OutboundQueue"/>), so either it sees this store or this sees its mark.
    /// The cost of not missing each other falls on the drain that had to wait, not on every flush of every handler.
    /// </remarks>
    private void Release(int state)
    {
        Volatile.Write(ref _state, state);
        Volatile.Read(ref _pushes)?.OnWriterReleased();
    }

    private ValueTask<FlushResult> FlushEntered(int state, in ReadOnlySequence<byte> data, CancellationToken cancellationToken)
    {
        ValueTask<FlushResult> flush;
        try
        {
            flush = data.IsEmpty ? FlushCore(handler: true, cancellationToken) : WriteAndFlushCore(data, cancellationToken);
        }
        catch
        {
            Release(state & Completed);
            throw;
        }

        if (flush.IsCompleted)
        {
            Release(state & Completed);
            return flush;
        }

        // Until the handler has the result, its flush holds the writer. The hand-back must come after this store, so the
        // wrapper starts only now.
        Leave((state & Completed) | HandlerFlush | HandlerFlushPending);
        return HooksHandlerFlush ? flush : AwaitHandlerFlushAsync(flush);
    }

    private async ValueTask<FlushResult> AwaitHandlerFlushAsync(ValueTask<FlushResult> flush)
    {
        try
        {
            return await flush.ConfigureAwait(false);
        }
        finally
        {
            HandlerFlushEnded();
        }
    }

    private async ValueTask<FlushResult> FlushAfterAsync(Task drainerFlush, CancellationToken cancellationToken)
    {
        try
        {
            await drainerFlush.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            HandlerFlushEnded();
            throw;
        }

        // Still ours (HandlerFlush kept everyone out): mark the call, and flush with whatever was pushed meanwhile.
        var state = Volatile.Read(ref _state) & Completed;
        Volatile.Write(ref _state, state | HandlerCall);
        try
        {
            Volatile.Read(ref _pushes)?.DrainInto(this);
        }
        catch
        {
            Release(state);
            throw;
        }

        return await FlushEntered(state, ReadOnlySequence<byte>.Empty, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Copies pieces in one after another for a caller that holds the writer: asks the output for memory once per block
    /// (a block's worth, or what is left to write), fills it, and advances once per block.
    /// </summary>
    private ref struct BlockFiller(GuardedOutput output, long bytes)
    {
        private Span<byte> _free;
        private int _filled;
        private long _left = bytes;

        public void Append(ReadOnlySpan<byte> data)
        {
            while (!data.IsEmpty)
            {
                if (_filled == _free.Length)
                {
                    Finish();
                    _free = output.GetMemoryCore((int)Math.Clamp(_left, 1, WholeWriteLimit)).Span;
                }

                var count = Math.Min(_free.Length - _filled, data.Length);
                data[..count].CopyTo(_free[_filled..]);
                _filled += count;
                _left -= count;
                data = data[count..];
            }
        }

        /// <summary>Advances over what the current block holds.</summary>
        public void Finish()
        {
            if (_filled > 0)
            {
                output.AdvanceCore(_filled);
                _filled = 0;
            }
        }
    }
}
