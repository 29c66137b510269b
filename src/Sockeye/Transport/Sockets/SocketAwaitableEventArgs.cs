using System.Net.Sockets;
using System.Threading.Tasks.Sources;

namespace Sockeye.Transport.Sockets;

/// <summary>
/// A reusable <see cref="SocketAsyncEventArgs"/> that can be awaited as a <see cref="ValueTask{T}"/>, so a
/// receive or send in steady state allocates nothing.
/// </summary>
internal abstract class SocketAwaitableEventArgs : SocketAsyncEventArgs, IValueTaskSource<SocketOperationResult>
{
    private ManualResetValueTaskSourceCore<SocketOperationResult> _source;

    protected SocketAwaitableEventArgs()
        : base(unsafeSuppressExecutionContextFlow: true)
    {
        // On Linux the socket engine already completes operations on the thread pool, so the continuation
        // can run right there instead of hopping again.
        _source.RunContinuationsAsynchronously = false;
    }

    public SocketOperationResult GetResult(short token) => _source.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _source.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _source.OnCompleted(continuation, state, token, flags);

    /// <summary>Call before starting an operation.</summary>
    protected void Prepare() => _source.Reset();

    /// <summary>Turns the bool a socket's *Async method returns into the operation's task.</summary>
    protected ValueTask<SocketOperationResult> Await(bool pending) =>
        pending ? new ValueTask<SocketOperationResult>(this, _source.Version) : new ValueTask<SocketOperationResult>(CurrentResult());

    protected override void OnCompleted(SocketAsyncEventArgs e) => _source.SetResult(CurrentResult());

    private SocketOperationResult CurrentResult() =>
        SocketError == SocketError.Success ? new SocketOperationResult(BytesTransferred) : new SocketOperationResult(SocketError);
}
