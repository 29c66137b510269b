using System.IO.Pipelines;
using System.Net;

namespace Sockeye;

/// <summary>
/// One client connection: its endpoints, its byte stream as a pair of pipes, and its lifetime.
/// </summary>
/// <remarks>
/// Read what the client sent from <c>Transport.Input</c> and write replies to <c>Transport.Output</c>.
/// The connection stays open until the handler's task completes or the connection is aborted.
/// </remarks>
public abstract class Connection
{
    // A source that is already canceled, swapped in when the connection closes so that a token asked for
    // afterwards is canceled from the start. Connections create their sources lazily: most handlers never
    // ask for them, and an idle connection should hold as little as possible.
    private static readonly CancellationTokenSource s_canceled = CreateCanceled();

    private int _endReason;
    private EndPoint? _remoteEndPoint;
    private EndPoint? _localEndPoint;
    private CancellationTokenSource? _closed;
    private CancellationTokenSource? _closeRequested;

    private protected Connection(long id, EndPoint? remoteEndPoint)
    {
        Id = id;
        _remoteEndPoint = remoteEndPoint;
    }

    /// <summary>A number that identifies the connection within its server, increasing from 1.</summary>
    public long Id { get; }

    /// <summary>
    /// The server's endpoint of the connection. Behind a proxy that speaks the PROXY protocol this is the address the
    /// client connected to at the proxy.
    /// </summary>
    public EndPoint? LocalEndPoint
    {
        get => _localEndPoint ??= ResolveLocalEndPoint();
        internal set => _localEndPoint = value;
    }

    /// <summary>
    /// The client's endpoint. Behind a proxy that speaks the PROXY protocol this is the original client,
    /// not the proxy.
    /// </summary>
    public EndPoint? RemoteEndPoint
    {
        get => _remoteEndPoint ??= ResolveRemoteEndPoint();
        internal set => _remoteEndPoint = value;
    }

    /// <summary>The connection's byte stream: read from <c>Input</c>, write to <c>Output</c>.</summary>
    /// <remarks>Optional layers such as TLS replace it with their own decrypted stream before the handler runs.</remarks>
    public IDuplexPipe Transport { get; internal set; } = null!;

    /// <summary>
    /// The largest message the server accepts on this connection (<see cref="SocketServerOptions.MaxMessageSize"/>).
    /// The receive buffer always has room for one such message, so a handler that waits for a whole message
    /// of at most this size never stalls.
    /// </summary>
    public long MaxMessageSize => MaxMessageSizeCore;

    /// <summary>Bytes received from the client so far.</summary>
    public abstract long BytesReceived { get; }

    /// <summary>Bytes sent to the client so far.</summary>
    public abstract long BytesSent { get; }

    /// <summary>Why the connection ended, or <see cref="ConnectionEndReason.None"/> while it is open.</summary>
    public ConnectionEndReason EndReason => (ConnectionEndReason)Volatile.Read(ref _endReason);

    /// <summary>
    /// Canceled when the connection is torn down: the client reset it, it was aborted, or it was closed.
    /// A client that only ends its sending side does not cancel it: the handler may still reply.
    /// </summary>
    public CancellationToken ConnectionClosed => GetToken(ref _closed);

    /// <summary>
    /// Canceled when the server asks the handler to finish: the server is stopping gracefully. A handler
    /// should complete the message in hand and return; one that does not is aborted after the shutdown timeout.
    /// </summary>
    public CancellationToken CloseRequested => GetToken(ref _closeRequested);

    /// <summary>
    /// Canceled when the server begins to stop, before <see cref="CloseRequested"/>: for
    /// <see cref="SocketServerOptions.DrainDelay"/> it still accepts and serves as usual, while load balancers learn that
    /// it is draining. A handler that answers health checks reports it, as <see cref="Handlers.AgentCheckHandler"/>
    /// does; other handlers need do nothing until <see cref="CloseRequested"/>.
    /// </summary>
    public CancellationToken ServerDraining => ServerDrainingToken;

    /// <summary>Ends the connection at once, discarding anything not yet sent.</summary>
    public void Abort() => Abort(ConnectionEndReason.Aborted);

    /// <summary>Ends the connection at once with the given reason, discarding anything not yet sent.</summary>
    /// <param name="reason">Why the connection is ended. The first reason recorded wins.</param>
    public void Abort(ConnectionEndReason reason)
    {
        if (reason == ConnectionEndReason.None)
        {
            throw new ArgumentOutOfRangeException(nameof(reason), "A connection cannot end with no reason.");
        }

        TrySetEndReason(reason);
        AbortCore();
    }

    /// <inheritdoc />
    public override string ToString() => $"#{Id} {RemoteEndPoint}";

    /// <summary>The server's draining token; a connection that belongs to no server never drains.</summary>
    private protected virtual CancellationToken ServerDrainingToken => CancellationToken.None;

    /// <summary>Finds the client's endpoint the first time it is asked for, for transports that do not know it up front.</summary>
    private protected virtual EndPoint? ResolveRemoteEndPoint() => null;

    /// <summary>Finds the server's endpoint the first time it is asked for.</summary>
    private protected virtual EndPoint? ResolveLocalEndPoint() => null;

    /// <summary>The server's maximum message size, wherever the connection keeps it.</summary>
    private protected abstract long MaxMessageSizeCore { get; }

    /// <summary>Tears down the transport. Idempotent; the end reason is already recorded.</summary>
    private protected abstract void AbortCore();

    /// <summary>
    /// The client has begun a message: from now until <see cref="OnMessageReceived"/>, it must keep sending at
    /// the minimum data rate. Framers and the built-in handlers call it; between messages only the idle timeout applies.
    /// </summary>
    internal virtual void OnMessageStarted()
    {
    }

    /// <summary>A whole message has arrived (and is counted).</summary>
    internal virtual void OnMessageReceived()
    {
    }

    /// <summary>A whole message has been written for the client (and is counted).</summary>
    internal virtual void OnMessageSent()
    {
    }

    /// <summary>
    /// A layer read the end of the client's stream (TLS close_notify): the client ended first, whether or not its
    /// FIN has reached the socket yet, and the connection ends as <see cref="ConnectionEndReason.ClientClosed"/>.
    /// </summary>
    internal virtual void OnClientEndedStream()
    {
    }

    /// <summary>Records why the connection ended, unless a reason was recorded first.</summary>
    internal bool TrySetEndReason(ConnectionEndReason reason) =>
        Interlocked.CompareExchange(ref _endReason, (int)reason, (int)ConnectionEndReason.None) == (int)ConnectionEndReason.None;

    /// <summary>Asks the handler to finish; see <see cref="CloseRequested"/>.</summary>
    internal void RequestClose() => Fire(ref _closeRequested);

    /// <summary>Cancels <see cref="ConnectionClosed"/>.</summary>
    private protected void FireConnectionClosed() => Fire(ref _closed);

    private static CancellationToken GetToken(ref CancellationTokenSource? field)
    {
        var source = Volatile.Read(ref field);
        if (source is null)
        {
            var created = new CancellationTokenSource();
            source = Interlocked.CompareExchange(ref field, created, null) ?? created;
            if (!ReferenceEquals(source, created))
            {
                created.Dispose();
            }
        }

        return source.Token;
    }

    private static void Fire(ref CancellationTokenSource? field)
    {
        var previous = Interlocked.Exchange(ref field, s_canceled);
        if (previous is not null && !ReferenceEquals(previous, s_canceled))
        {
            // Callbacks registered by user code run synchronously inside Cancel; run them on the thread pool
            // so they can never re-enter the transport code that fired them.
            ThreadPool.UnsafeQueueUserWorkItem(static source => source.Cancel(), previous, preferLocal: false);
        }
    }

    private static CancellationTokenSource CreateCanceled()
    {
        var source = new CancellationTokenSource();
        source.Cancel();
        return source;
    }
}
