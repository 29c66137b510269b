using System.Runtime.ExceptionServices;
using System.Threading.Tasks.Sources;

namespace Sockeye.Transport;

/// <summary>
/// The completion of a pipe's one pending operation (a read or a flush), behind its <see cref="IValueTaskSource{TResult}"/>.
/// What <see cref="ManualResetValueTaskSourceCore{TResult}"/> does, in about half the bytes: every connection carries
/// two of these for as long as it lives, so what an idle connection costs shrinks with them. The saving is in the
/// common case, an <c>await</c> in an async method, which asks for neither the execution context nor a scheduling
/// context; a continuation that asks for either is wrapped, at the cost of an allocation, when it is registered.
/// </summary>
/// <remarks>
/// The result and the error are staged by the pipe (under its lock) before <see cref="Publish"/> makes them visible,
/// so the pipe needs no fields of its own to carry them across the hop to the thread pool. The pipe completes the
/// operation under that lock too (<see cref="Publish"/>).
/// </remarks>
internal struct PipeCompletion<TResult>
{
    // Stands for "already completed" in the continuation field, so a registration that races the completion sees it.
    private static readonly Action<object?> s_completed = static _ => throw new InvalidOperationException("This continuation is a marker and never runs.");

    private Action<object?>? _continuation;
    private object? _continuationState;
    private Exception? _error;
    private TResult _result;
    private short _version;
    private bool _completed;

    public readonly short Version => _version;

    /// <summary>Starts a new operation: the previous one has been consumed.</summary>
    public void Reset()
    {
        _version++;
        _completed = false;
        _continuation = null;
        _continuationState = null;
        _error = null;
        _result = default!;
    }

    /// <summary>Sets what the operation will complete with; nothing sees it until <see cref="Publish"/>.</summary>
    public void Stage(TResult result, Exception? error)
    {
        _result = result;
        _error = error;
    }

    /// <summary>
    /// Completes the operation with what was staged, then runs its continuation if one is registered yet (otherwise
    /// the awaiter runs it when it registers). <paramref name="gate"/> is the pipe's lock, the one
    /// <see cref="Reset"/> is called under.
    /// </summary>
    /// <remarks>
    /// Once the operation reads as completed, its awaiter may go on at once without registering, start the next
    /// operation and register for that. A completion still between marking itself done and taking the continuation
    /// would then take the next operation's, and run it before that operation completed (and again when it did).
    /// Both steps happen under the lock, so the next <see cref="Reset"/> waits for them; the continuation runs after.
    /// </remarks>
    public void Publish(object gate)
    {
        Action<object?>? continuation;
        object? state;
        lock (gate)
        {
            Volatile.Write(ref _completed, true);
            continuation = Volatile.Read(ref _continuation) ?? Interlocked.CompareExchange(ref _continuation, s_completed, null);
            state = _continuationState;
        }

        continuation?.Invoke(state);
    }

    public ValueTaskSourceStatus GetStatus(short token)
    {
        Validate(token);
        return !Volatile.Read(ref _completed) ? ValueTaskSourceStatus.Pending
            : _error is null ? ValueTaskSourceStatus.Succeeded
            : _error is OperationCanceledException ? ValueTaskSourceStatus.Canceled
            : ValueTaskSourceStatus.Faulted;
    }

    public readonly TResult GetResult(short token)
    {
        Validate(token);
        if (!_completed)
        {
            throw new InvalidOperationException("The operation has not completed yet.");
        }

        if (_error is not null)
        {
            ExceptionDispatchInfo.Throw(_error);
        }

        return _result;
    }

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        Validate(token);
        (continuation, state) = ContinuationContext.Wrap(continuation, state, flags);

        // The state is written before the continuation is published; Publish reads them in the other order.
        _continuationState = state;
        var previous = Volatile.Read(ref _continuation) ?? Interlocked.CompareExchange(ref _continuation, continuation, null);
        if (previous is null)
        {
            return;
        }

        if (!ReferenceEquals(previous, s_completed))
        {
            throw new InvalidOperationException("The operation is already being awaited: a pipe's result may be awaited once.");
        }

        // Completed in the meantime: run it on the thread pool rather than inside the caller's OnCompleted.
        ThreadPool.UnsafeQueueUserWorkItem(continuation, state, preferLocal: true);
    }

    private readonly void Validate(short token)
    {
        if (token != _version)
        {
            throw new InvalidOperationException("The result was already consumed: a pipe's result may be awaited once.");
        }
    }
}
