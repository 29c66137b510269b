using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.IO.Pipelines;
using System.Net;
using Sockeye.Framing;
using Sockeye.Messaging;
using Sockeye.Transport;

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

    // The end reason in the low byte, and the handler's lifecycle above it: one word, since an idle connection carries
    // thousands of these (a second int would cost 8 bytes a connection, with padding).
    private const int EndReasonMask = 0xFF;
    private const int HandlerStarted = 1 << 8;
    private const int HandlerEnded = 1 << 9;
    private const int CloseAsked = 1 << 10;

    private int _state;
    private ConnectionExtras? _extras;
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
    /// What the TLS handshake settled: protocol, cipher suite, the client's certificate, the host name it asked for.
    /// <see langword="null"/> on a connection without TLS, which spends neither an allocation nor a field on it: the
    /// TLS layer's transport holds it.
    /// </summary>
    public Protocols.TlsConnectionInfo? Tls => (Transport as Protocols.TlsTransport)?.Info;

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
    public ConnectionEndReason EndReason => (ConnectionEndReason)(Volatile.Read(ref _state) & EndReasonMask);

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

    /// <summary>
    /// State of the application's own for this connection, such as a user name or a session: created on first use, so a
    /// connection that never asks for it pays nothing. Safe to use from any thread, as handlers of other connections and
    /// broadcasts do.
    /// </summary>
    public IDictionary<object, object?> Items => Extras.Items;

    /// <summary>
    /// Sends <paramref name="message"/>, as it is, from any thread: other connections' handlers, timers, queue consumers.
    /// It may be called concurrently with other sends and with the handler's own writes to <c>Transport.Output</c>.
    /// </summary>
    /// <param name="message">The bytes to send; copied before this returns, so the caller may reuse the memory.</param>
    /// <param name="cancellationToken">Cancels a wait for room (<see cref="OutboundQueuePolicy.Wait"/>, or <see cref="OutboundQueuePolicy.Disconnect"/>'s grace).</param>
    /// <returns>
    /// Whether the message was queued, dropped, or the connection is closed. It completes once the message is queued, not
    /// once it is sent: at once, unless the queue is full under <see cref="OutboundQueuePolicy.Wait"/> or for
    /// <see cref="OutboundQueuePolicy.Disconnect"/>'s <see cref="SocketServerOptions.SlowReaderGrace"/>.
    /// </returns>
    /// <remarks>
    /// <para>
    /// Messages sent from one thread (or one sequence of awaits) leave in the order they were sent, each one whole: the bytes
    /// of two messages never interleave, and a message goes out between two of the handler's flushes, never inside what
    /// the handler wrote and has not flushed. So a handler that mixes its own writes with pushes flushes at the end of
    /// each of its messages (as <c>WriteMessageAsync</c> does). Messages queued
    /// together leave in one send, with the handler's own reply when it is flushing one.
    /// </para>
    /// <para>
    /// What waits for the connection is bounded by <see cref="SocketServerOptions.MaxOutboundQueueSize"/>; a send that
    /// would go over it follows <see cref="SocketServerOptions.OutboundQueuePolicy"/>. It works the same over TLS and
    /// behind the PROXY protocol: it writes to the connection's final <see cref="Transport"/>.
    /// </para>
    /// </remarks>
    /// <exception cref="InvalidOperationException">The connection's handler has not started yet.</exception>
    [SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = "The overloads differ in the message's type; each takes the same optional token, as Stream.WriteAsync's do.")]
    public ValueTask<SendStatus> SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default) =>
        GetOutboundQueue() is { } queue ? queue.Enqueue(OutboundMessage.Copy(message.Span), cancellationToken) : Closed;

    /// <summary>Sends <paramref name="message"/>, as it is, from any thread, as <see cref="SendAsync(ReadOnlyMemory{byte}, CancellationToken)"/> does.</summary>
    /// <param name="message">The bytes to send, possibly in several segments; copied before this returns.</param>
    /// <param name="cancellationToken">Cancels a wait for room (<see cref="OutboundQueuePolicy.Wait"/>, or <see cref="OutboundQueuePolicy.Disconnect"/>'s grace).</param>
    /// <returns>Whether the message was queued, dropped, or the connection is closed.</returns>
    [SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = "The overloads differ in the message's type; each takes the same optional token, as Stream.WriteAsync's do.")]
    public ValueTask<SendStatus> SendAsync(in ReadOnlySequence<byte> message, CancellationToken cancellationToken = default) =>
        GetOutboundQueue() is { } queue ? queue.Enqueue(OutboundMessage.Copy(message), cancellationToken) : Closed;

    /// <summary>
    /// Sends <paramref name="message"/> framed by <paramref name="framer"/>, from any thread, as
    /// <see cref="SendAsync(ReadOnlyMemory{byte}, CancellationToken)"/> does.
    /// </summary>
    /// <param name="framer">The message format.</param>
    /// <param name="message">The message, without framing; framed into a buffer of the send's own before this returns.</param>
    /// <param name="cancellationToken">Cancels a wait for room (<see cref="OutboundQueuePolicy.Wait"/>, or <see cref="OutboundQueuePolicy.Disconnect"/>'s grace).</param>
    /// <returns>Whether the message was queued, dropped, or the connection is closed.</returns>
    /// <exception cref="ArgumentException">The message cannot be framed in this format.</exception>
    [SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = "The overloads differ in the message's type; each takes the same optional token, as Stream.WriteAsync's do.")]
    public ValueTask<SendStatus> SendMessageAsync(MessageFramer framer, ReadOnlySpan<byte> message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(framer);
        return GetOutboundQueue() is { } queue ? queue.Enqueue(OutboundMessage.Frame(framer, message), cancellationToken) : Closed;
    }

    /// <summary>
    /// Sends <paramref name="message"/> as UTF-8, framed by <paramref name="framer"/>, from any thread, as
    /// <see cref="SendAsync(ReadOnlyMemory{byte}, CancellationToken)"/> does: a chat line, a notice.
    /// </summary>
    /// <param name="framer">The message format.</param>
    /// <param name="message">The text, without framing; encoded and framed into a buffer of the send's own before this returns.</param>
    /// <param name="cancellationToken">Cancels a wait for room (<see cref="OutboundQueuePolicy.Wait"/>, or <see cref="OutboundQueuePolicy.Disconnect"/>'s grace).</param>
    /// <returns>Whether the message was queued, dropped, or the connection is closed.</returns>
    /// <exception cref="ArgumentException">The message cannot be framed in this format (a line with a line break in it, say).</exception>
    [SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = "The overloads differ in the message's type; each takes the same optional token, as Stream.WriteAsync's do.")]
    public ValueTask<SendStatus> SendMessageAsync(MessageFramer framer, string message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(framer);
        ArgumentNullException.ThrowIfNull(message);
        return GetOutboundQueue() is { } queue ? queue.Enqueue(OutboundMessage.Frame(framer, message), cancellationToken) : Closed;
    }

    /// <summary>
    /// Sends <paramref name="message"/> written by <paramref name="writer"/> (a protocol's serializer, or a framer for a
    /// message straight from <c>ReadMessagesAsync</c>), from any thread, as
    /// <see cref="SendAsync(ReadOnlyMemory{byte}, CancellationToken)"/> does.
    /// </summary>
    /// <typeparam name="TMessage">What a message is before it is written.</typeparam>
    /// <param name="writer">The protocol's writer.</param>
    /// <param name="message">The message; written into a buffer of the send's own before this returns.</param>
    /// <param name="cancellationToken">Cancels a wait for room (<see cref="OutboundQueuePolicy.Wait"/>, or <see cref="OutboundQueuePolicy.Disconnect"/>'s grace).</param>
    /// <returns>Whether the message was queued, dropped, or the connection is closed.</returns>
    /// <exception cref="ArgumentException">The message cannot be written in this format.</exception>
    [SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = "The overloads differ in the message's type; each takes the same optional token, as Stream.WriteAsync's do.")]
    public ValueTask<SendStatus> SendMessageAsync<TMessage>(IMessageWriter<TMessage> writer, TMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(writer);
        return GetOutboundQueue() is { } queue ? queue.Enqueue(OutboundMessage.Frame(writer, message), cancellationToken) : Closed;
    }

    /// <summary>
    /// Ends the connection gracefully, from its handler (a QUIT command's, after its reply) or from anywhere (an
    /// operator's kick). A message loop (<see cref="Framing.ConnectionMessageExtensions.ReadMessagesAsync{TMessage}(Connection, Framing.IMessageReader{TMessage}, CancellationToken)"/>,
    /// <see cref="Messaging.MessageConnectionHandler{TMessage}"/>) reads no further message, not even one that has
    /// already arrived, and ends; what was written or queued is sent, and the connection closes as when a handler
    /// returns. A handler that reads its pipes itself sees <see cref="CloseRequested"/> canceled, and should return.
    /// Unlike <see cref="Abort()"/>, nothing written is lost.
    /// </summary>
    public void Close()
    {
        Interlocked.Or(ref _state, CloseAsked);
        RequestClose();
    }

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

    /// <summary>The connection's handler is running: it is listed, and may be sent to and join groups.</summary>
    internal bool IsServing => (Volatile.Read(ref _state) & (HandlerStarted | HandlerEnded | EndReasonMask)) == HandlerStarted;

    /// <summary>The connection's handler has returned, or the connection was aborted: it takes no more sends or groups.</summary>
    internal bool HasEnded => (Volatile.Read(ref _state) & (HandlerEnded | EndReasonMask)) != 0;

    /// <summary>What the connection keeps only once asked: its items and its groups.</summary>
    internal ConnectionExtras Extras
    {
        get
        {
            var extras = Volatile.Read(ref _extras);
            if (extras is null)
            {
                var created = new ConnectionExtras();
                extras = Interlocked.CompareExchange(ref _extras, created, null) ?? created;
            }

            return extras;
        }
    }

    /// <summary>The extras, if anything created them.</summary>
    internal ConnectionExtras? ExistingExtras => Volatile.Read(ref _extras);

    /// <summary>
    /// The handler is about to run, on the connection's final <see cref="Transport"/> (after TLS and the PROXY header): from
    /// now on it is listed, and may be sent to.
    /// </summary>
    internal void OnHandlerStarting() => Interlocked.Or(ref _state, HandlerStarted);

    /// <summary>The handler has returned (or the connection is ending): no more sends are taken, and it leaves every group.</summary>
    internal void OnHandlerEnded()
    {
        // Interlocked, a full fence: a group join that created the extras after this read sees the mark, and refuses.
        if ((Interlocked.Or(ref _state, HandlerEnded) & HandlerEnded) == 0)
        {
            ExistingExtras?.LeaveAllGroups(this);
        }
    }

    /// <summary>The push queue for a broadcast to this member: null once it has ended.</summary>
    internal OutboundQueue? GetOutboundQueueForBroadcast() => IsServing ? GetOutboundQueue() : null;

    /// <summary>
    /// Schedules a drain of the connection's push queue. By default on the thread pool; a transport with event loops runs
    /// it on the connection's own loop, after the loop's current round of events when that is the calling thread, so a
    /// broadcast from a handler on the loop sends to each member once, after every message that arrived together.
    /// </summary>
    internal virtual void ScheduleOutbound(OutboundQueue drain) => ThreadPool.UnsafeQueueUserWorkItem(drain, preferLocal: false);

    /// <summary>Pushed messages have been written for the client (and are counted).</summary>
    internal virtual void OnMessagesSent(int count)
    {
    }

    /// <summary>What the connection's push queue follows: the server's bound, policy, metrics and logs.</summary>
    private protected virtual PushSettings PushSettings => PushSettings.Default;

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

    /// <summary>
    /// The handler is about to throw, and what it wrote (a last error reply) should still reach the client: the
    /// connection ends with <see cref="ConnectionEndReason.HandlerError"/> and the exception is logged as any handler's,
    /// but with a close, not a reset.
    /// </summary>
    internal virtual void CloseAfterHandlerError()
    {
    }

    /// <summary>Records why the connection ended, unless a reason was recorded first.</summary>
    internal bool TrySetEndReason(ConnectionEndReason reason)
    {
        var state = Volatile.Read(ref _state);
        while ((state & EndReasonMask) == (int)ConnectionEndReason.None)
        {
            var seen = Interlocked.CompareExchange(ref _state, state | (int)reason, state);
            if (seen == state)
            {
                return true;
            }

            state = seen;
        }

        return false;
    }

    /// <summary>Asks the handler to finish; see <see cref="CloseRequested"/>.</summary>
    internal void RequestClose()
    {
        Fire(ref _closeRequested);

        // A framed handler waiting for its next message waits on the input itself rather than on the token.
        (Transport?.Input as ConnectionInput)?.OnCloseRequested();
    }

    /// <summary>Whether <see cref="Close"/> has been called: a message loop reads no further message.</summary>
    internal bool IsClosing => (Volatile.Read(ref _state) & CloseAsked) != 0;

    /// <summary>Whether <see cref="RequestClose"/> has been called, without making the <see cref="CloseRequested"/> token.</summary>
    internal bool IsCloseRequested => ReferenceEquals(Volatile.Read(ref _closeRequested), s_canceled);

    /// <summary>Cancels <see cref="ConnectionClosed"/>.</summary>
    private protected void FireConnectionClosed() => Fire(ref _closed);

    private static ValueTask<SendStatus> Closed => new(SendStatus.Closed);

    /// <summary>The push queue of the connection's final output, created on first use; null once the connection has ended.</summary>
    private OutboundQueue? GetOutboundQueue()
    {
        var state = Volatile.Read(ref _state);
        if ((state & HandlerStarted) == 0)
        {
            // Before the handler, the transport may still be a layer's raw stream (a TLS handshake): nothing may be written.
            throw new InvalidOperationException("The connection's handler has not started yet: a connection takes sends once its handler runs.");
        }

        if ((state & (HandlerEnded | EndReasonMask)) != 0)
        {
            return null;
        }

        if (Transport.Output is not GuardedOutput output)
        {
            throw new InvalidOperationException("This connection's output does not take sends from other threads.");
        }

        return output.GetOrCreatePushes(this, PushSettings);
    }

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
