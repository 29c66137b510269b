using System.IO.Pipelines;
using System.Threading.Tasks.Sources;
using Sockeye.Transport;

namespace Sockeye.Messaging;

/// <summary>
/// A pipe's reader with one reader at a time enforced: what the handler reads on in-memory connections (the transports and
/// TLS give it a <see cref="ConnectionInput"/>, which enforces the same). A <see cref="Pipe"/>'s reader refuses a read while a result is held, but takes a second read
/// while the first one waits, and then resumes only one of them; this refuses the second read at once instead, as the
/// epoll transport's input does.
/// </summary>
/// <remarks>
/// A read that waits is handed out as this object's own <see cref="IValueTaskSource{TResult}"/>, so the wait's end (with a
/// result, an error or a cancellation) is seen here without allocating, and the next read is let in.
/// </remarks>
internal sealed class GuardedPipeReader : PipeReader, IValueTaskSource<ReadResult>
{
    internal const string ConcurrentReadMessage =
        "Concurrent reads from a connection's input are not supported: one reader at a time, and each read advanced " +
        "(AdvanceTo) before the next. Read in one place, the handler, and hand messages to other tasks from there.";

    private const int Idle = 0;
    private const int Reading = 1;

    private readonly PipeReader _inner;
    private readonly Action _innerCompleted;
    private int _state;
    private short _version;
    private ValueTask<ReadResult> _waiting;
    private Action<object?>? _continuation;
    private object? _continuationState;

    public GuardedPipeReader(PipeReader inner)
    {
        _inner = inner;
        _innerCompleted = () => _continuation!(_continuationState);
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        Enter();
        ValueTask<ReadResult> read;
        try
        {
            read = _inner.ReadAsync(cancellationToken);
        }
        catch
        {
            Volatile.Write(ref _state, Idle);
            throw;
        }

        if (read.IsCompleted)
        {
            Volatile.Write(ref _state, Idle);
            return read;
        }

        // Still ours until the reader collects the result.
        _waiting = read;
        return new ValueTask<ReadResult>(this, _version);
    }

    public override bool TryRead(out ReadResult result)
    {
        Enter();
        try
        {
            return _inner.TryRead(out result);
        }
        finally
        {
            Volatile.Write(ref _state, Idle);
        }
    }

    public override void AdvanceTo(SequencePosition consumed) => _inner.AdvanceTo(consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => _inner.AdvanceTo(consumed, examined);

    public override void CancelPendingRead() => _inner.CancelPendingRead();

    public override void Complete(Exception? exception = null) => _inner.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => _inner.CompleteAsync(exception);

    public ValueTaskSourceStatus GetStatus(short token)
    {
        Validate(token);
        var waiting = _waiting;
        return !waiting.IsCompleted ? ValueTaskSourceStatus.Pending
            : waiting.IsCompletedSuccessfully ? ValueTaskSourceStatus.Succeeded
            : waiting.IsCanceled ? ValueTaskSourceStatus.Canceled
            : ValueTaskSourceStatus.Faulted;
    }

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
    {
        Validate(token);
        (_continuation, _continuationState) = ContinuationContext.Wrap(continuation, state, flags);
        _waiting.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_innerCompleted);
    }

    public ReadResult GetResult(short token)
    {
        Validate(token);
        var waiting = _waiting;
        _waiting = default;
        _continuation = null;
        _continuationState = null;
        _version++;
        try
        {
            return waiting.GetAwaiter().GetResult();
        }
        finally
        {
            // Done, with a result, an error or a cancellation: the next read may start.
            Volatile.Write(ref _state, Idle);
        }
    }

    private void Enter()
    {
        if (Interlocked.CompareExchange(ref _state, Reading, Idle) != Idle)
        {
            throw new InvalidOperationException(ConcurrentReadMessage);
        }
    }

    private void Validate(short token)
    {
        if (token != _version)
        {
            throw new InvalidOperationException("The read's result was already collected: a read may be awaited once.");
        }
    }
}
