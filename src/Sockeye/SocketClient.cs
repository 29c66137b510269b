using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using Sockeye.Client;
using Sockeye.Framing;

namespace Sockeye;

/// <summary>
/// A TCP client that speaks in messages: it connects with a timeout (and TLS, with <see cref="SocketClientOptions.Tls"/>),
/// sends and receives messages framed by <see cref="SocketClientOptions.Framer"/>, receives what the server pushes as
/// a stream of messages while it goes on sending, reconnects when asked to (<see cref="SocketClientOptions.Reconnect"/>),
/// can end its sending side while it still reads, and closes cleanly.
/// </summary>
/// <remarks>
/// <para>
/// Sends are thread-safe: any number of tasks may send at once, each message goes out whole, and the messages of one
/// sender keep their order. One receive runs at a time (<see cref="ReceiveAsync"/> or an enumeration of
/// <see cref="ReadMessagesAsync{TMessage}"/>), beside any sends; a second one at the same time throws
/// <see cref="InvalidOperationException"/>.
/// </para>
/// <para>
/// With <see cref="SocketClientOptions.Reconnect"/>, a lost connection (an error, or the server closing it) is replaced by
/// a new one, see <see cref="Reconnecting"/>. A send whose bytes may have reached the old connection fails with an
/// <see cref="IOException"/> and is never repeated; sends made while the client reconnects wait for the new
/// connection. A receive goes on, on the new connection, with the next whole message. Messages in flight when the
/// connection broke (written to the old socket, or sent by the server and not yet read) may be lost: TCP cannot say.
/// The server sees a new connection, so state it kept per connection (a login, a room) must be set up again in
/// <see cref="Reconnected"/>.
/// </para>
/// <para>
/// The raw byte stream is <see cref="Transport"/>, for protocols of your own (read it as messages with
/// <see cref="PipeReaderMessageExtensions.ReadMessagesAsync"/>, without a copy); it is the current connection's, and
/// bypasses the send lock and the reconnect.
/// </para>
/// </remarks>
/// <example>
/// <code>
/// var options = new SocketClientOptions { Framer = new LineFramer() };
/// await using var client = await SocketClient.ConnectAsync(new DnsEndPoint("localhost", 11000), options);
/// await client.SendAsync("hello"u8.ToArray());
/// byte[]? reply = await client.ReceiveAsync();   // null once the server has closed
/// </code>
/// </example>
public sealed class SocketClient : IAsyncDisposable
{
    private const int Receiving = 1;
    private const int Closed = 2;

    private readonly EndPoint _endPoint;
    private readonly SocketClientOptions _options;
    private readonly ReconnectOptions? _reconnect;
    private readonly MessageFramer _framer;
    private readonly long _maxMessageSize;
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly CancellationTokenSource _disposing = new();

    // The current connection; a reconnect in progress, which yields the next one (or null when the client gave up or
    // was disposed); and, once the client gave up, why.
    private ClientConnection _connection;
    private Task<ClientConnection?>? _reconnecting;
    private Exception? _lastError;
    private int _attemptsMade;
    private bool _gaveUp;

    // The connection each side last used: a side completes its own pipe of a connection it leaves (under the send
    // lock, or as the one receive).
    private ClientConnection _sendConnection;
    private ClientConnection _receiveConnection;
    private int _receiving;   // 0, Receiving, or Closed once disposed with no receive under way
    private int _disposed;

    private SocketClient(EndPoint endPoint, SocketClientOptions options, ClientConnection connection)
    {
        _endPoint = endPoint;
        _options = options;
        _reconnect = options.Reconnect;
        _framer = options.Framer;
        _maxMessageSize = options.Framer.MaxMessageSize ?? options.MaxMessageSize;
        _connection = _sendConnection = _receiveConnection = connection;
    }

    /// <summary>
    /// Raised before each reconnect attempt, with its number, the backoff it waits first, and the error that caused
    /// it. Raised on the thread pool; a handler must not block, and exceptions it throws are ignored.
    /// </summary>
    public event EventHandler<ReconnectEventArgs>? Reconnecting;

    /// <summary>
    /// Raised once a reconnect attempt has succeeded, just before sends and the receive go on over the new connection:
    /// the place to start again what the server kept per connection (a login, a subscription), with a send that is
    /// not awaited in the handler (it goes out after sends that were already waiting for the reconnect). Exceptions
    /// a handler throws are ignored.
    /// </summary>
    public event EventHandler<ReconnectEventArgs>? Reconnected;

    /// <summary>The socket, for tests that check it is closed.</summary>
    internal Socket Socket => _connection.Socket;

    /// <summary>The server's endpoint, as the current connection sees it.</summary>
    public EndPoint? RemoteEndPoint => _connection.RemoteEndPoint;

    /// <summary>The client's own endpoint on the current connection.</summary>
    public EndPoint? LocalEndPoint => _connection.LocalEndPoint;

    /// <summary>The current connection's byte stream: read what the server sends from <c>Input</c>, write to <c>Output</c>.</summary>
    public IDuplexPipe Transport => _connection;

    /// <summary>
    /// Whether the server ended the TLS connection without a close_notify, so that what it sent last may be
    /// truncated; meaningful once the receive side has ended (for <c>sockeye send</c>).
    /// </summary>
    internal bool TlsEndedWithoutCloseNotify => _receiveConnection.TlsEndedWithoutCloseNotify;

    /// <summary>
    /// Connects to <paramref name="endPoint"/>: a <see cref="DnsEndPoint"/> (each address the name resolves to is
    /// tried in turn), an <see cref="IPEndPoint"/>, or a <see cref="UnixDomainSocketEndPoint"/>.
    /// </summary>
    /// <param name="endPoint">The server.</param>
    /// <param name="options">The connect timeout and the message format; the defaults when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels connecting.</param>
    /// <returns>The connected client.</returns>
    /// <exception cref="SocketException">The host name did not resolve, or the server refused or could not be reached (the error from the last address tried).</exception>
    /// <exception cref="TimeoutException">Connecting took longer than <see cref="SocketClientOptions.ConnectTimeout"/>.</exception>
    /// <exception cref="AuthenticationException">
    /// With <see cref="SocketClientOptions.Tls"/>: the TLS handshake failed (the server's certificate was refused, the server
    /// does not speak TLS, or it ended the connection), or did not finish within the connect timeout (then the inner
    /// exception is a <see cref="TimeoutException"/>).
    /// </exception>
    /// <remarks>The first connection is not retried, whatever <see cref="SocketClientOptions.Reconnect"/> says: a wrong address fails at once.</remarks>
    public static async Task<SocketClient> ConnectAsync(EndPoint endPoint, SocketClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        options ??= new SocketClientOptions();
        options.Validate();
        var connection = await ClientConnection.ConnectAsync(endPoint, options, cancellationToken).ConfigureAwait(false);
        return new SocketClient(endPoint, options, connection);
    }

    /// <summary>
    /// Sends <paramref name="message"/>, framed, and waits until it is handed to the network. Thread-safe: concurrent
    /// sends go out one whole message after another.
    /// </summary>
    /// <param name="message">The message, without framing.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes once the message is sent.</returns>
    /// <exception cref="ArgumentException">The message cannot be framed in this format.</exception>
    /// <exception cref="IOException">
    /// The connection failed; its inner exception is the <see cref="SocketException"/>. With
    /// <see cref="SocketClientOptions.Reconnect"/>, the message may or may not have reached the server and is not sent
    /// again, while the client reconnects; or the client gave up reconnecting.
    /// </exception>
    public async ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var connection = await SendConnectionAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                _framer.WriteMessage(message.Span, connection.Output);
                await connection.Output.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (MayReconnect(ex, cancellationToken))
            {
                _ = StartReconnect(connection, ex);
                throw new IOException(
                    $"The connection to {_endPoint} was lost while this message was sent; it may not have reached the server, and is not sent again. The client is reconnecting.", ex);
            }
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>Receives the next message.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>
    /// The message, without framing; <see langword="null"/> once the server has ended the stream between two messages
    /// (never with <see cref="SocketClientOptions.Reconnect"/>: the client reconnects instead).
    /// </returns>
    /// <exception cref="ProtocolException">The server sent a message larger than the maximum, or ended the stream in the middle of one.</exception>
    /// <exception cref="IOException">The connection failed (its inner exception is the <see cref="SocketException"/>), or the client gave up reconnecting.</exception>
    /// <exception cref="InvalidOperationException">Another receive is under way.</exception>
    public async ValueTask<byte[]?> ReceiveAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var messages = new ClientMessageReader<ReadOnlySequence<byte>>(this, _framer, _maxMessageSize, cancellationToken);
        try
        {
            return await messages.MoveNextAsync().ConfigureAwait(false) ? messages.Current.ToArray() : null;
        }
        finally
        {
            await messages.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The messages the server sends, whenever they come (replies and pushes alike), parsed by
    /// <paramref name="reader"/> (a framer such as <see cref="SocketClientOptions.Framer"/>, a
    /// <see cref="JsonMessageCodec{TMessage}"/>, a protocol's reader), while the application goes on sending.
    /// </summary>
    /// <typeparam name="TMessage">What the reader makes of a message: with a <see cref="MessageFramer"/>, its bytes.</typeparam>
    /// <param name="reader">The protocol's reader; its maximum message size, or else <see cref="SocketClientOptions.MaxMessageSize"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for the next message.</param>
    /// <returns>The messages, each valid until the next is asked for; one enumeration at a time.</returns>
    /// <remarks>
    /// The stream ends when the server ends its side between two messages; with <see cref="SocketClientOptions.Reconnect"/>
    /// it goes on over the new connection instead, and ends only with an <see cref="IOException"/> once the client gives
    /// up, or with <see cref="ConnectionAbortedException"/> when the client is disposed.
    /// </remarks>
    /// <example>
    /// <code>
    /// var pushes = Task.Run(async () =>
    /// {
    ///     await foreach (var line in client.ReadMessagesAsync(new LineFramer(), cancellationToken))
    ///     {
    ///         Console.WriteLine(Encoding.UTF8.GetString(line));
    ///     }
    /// });
    /// await client.SendAsync("/join lobby"u8.ToArray());   // meanwhile, from this or any task
    /// </code>
    /// </example>
    public IAsyncEnumerable<TMessage> ReadMessagesAsync<TMessage>(IMessageReader<TMessage> reader, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var maxMessageSize = reader.MaxMessageSize ?? _options.MaxMessageSize;
        return new ClientMessageStream<TMessage>(this, reader, maxMessageSize, cancellationToken);
    }

    /// <summary>
    /// Ends the client's sending side (a half-close, TCP's FIN) once what was sent has gone out: the server sees the
    /// end of the stream, and the client can still receive its replies.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait for what is still being sent.</param>
    /// <returns>A task that completes once the sending side is closed.</returns>
    public async ValueTask CompleteSendingAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var connection = await SendConnectionAsync(cancellationToken).ConfigureAwait(false);
            await connection.CompleteSendingAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>
    /// Closes the connection, and stops a reconnect under way. What was sent has been handed to the network; nothing
    /// more is read, a receive still waiting ends with <see cref="ConnectionAbortedException"/>, and a send waiting for
    /// a reconnect with <see cref="ObjectDisposedException"/>.
    /// </summary>
    /// <returns>A task that completes once the connection is closed, and any socket a reconnect was opening too.</returns>
    /// <remarks>
    /// It never throws, whatever state the connection is in: after a send that failed (the server reset the
    /// connection), or was canceled, the socket is still closed and its descriptor freed. Bytes that such a send left
    /// unsent are dropped, not sent now: that send already reported the failure, and a server that is not reading
    /// would make the close wait for ever.
    /// </remarks>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Task<ClientConnection?>? reconnecting;
        lock (_gate)
        {
            reconnecting = _reconnecting;
        }

        await _disposing.CancelAsync().ConfigureAwait(false);
        if (reconnecting is not null)
        {
            // It ends promptly once canceled (it never throws), and closes what it was opening.
            await reconnecting.ConfigureAwait(false);
        }

        var connection = _connection;
        await connection.CloseAsync().ConfigureAwait(false);
        await connection.CompleteOutputAsync().ConfigureAwait(false);

        // A receive under way is still using the reader (its canceled read has yet to return): it completes the
        // reader itself when it ends.
        if (Interlocked.CompareExchange(ref _receiving, Closed, 0) == 0)
        {
            await CompleteReceivingAsync().ConfigureAwait(false);
        }

        _disposing.Dispose();
    }

    /// <summary>Marks the one receive as under way.</summary>
    /// <exception cref="InvalidOperationException">Another is.</exception>
    /// <exception cref="ObjectDisposedException">The client is disposed.</exception>
    internal ClientConnection BeginReceive()
    {
        var state = Interlocked.CompareExchange(ref _receiving, Receiving, 0);
        ObjectDisposedException.ThrowIf(state == Closed, this);
        if (state != 0)
        {
            throw new InvalidOperationException(
                "Another receive is under way on this SocketClient: one ReceiveAsync or ReadMessagesAsync enumeration at a time (sends may run beside it).");
        }

        return _receiveConnection;
    }

    /// <summary>Marks the receive as over, leaving the rest of the input for the next; or completes it, when the client was disposed meanwhile.</summary>
    internal async ValueTask EndReceiveAsync()
    {
        Volatile.Write(ref _receiving, 0);
        if (Volatile.Read(ref _disposed) != 0 && Interlocked.CompareExchange(ref _receiving, Closed, 0) == 0)
        {
            await CompleteReceivingAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Whether <paramref name="error"/>, met by a send or a receive, means the connection is lost and the client reconnects.</summary>
    internal bool MayReconnect(Exception error, CancellationToken cancellationToken) =>
        _reconnect is not null
        && Volatile.Read(ref _disposed) == 0
        && !cancellationToken.IsCancellationRequested
        && error is (IOException and not ProtocolException) or SocketException or ObjectDisposedException or ConnectionAbortedException;

    /// <summary>Whether a stream the server ended between two messages is a lost connection, to reconnect.</summary>
    internal bool ReconnectsOnEnd => _reconnect is not null && Volatile.Read(ref _disposed) == 0;

    /// <summary>
    /// The receive side's move to the connection after <paramref name="lost"/>: it waits for the reconnect (starting
    /// it if no one has), then completes the old connection's reader, which holds no message any more.
    /// </summary>
    /// <exception cref="IOException">The client gave up reconnecting.</exception>
    /// <exception cref="ConnectionAbortedException">The client was disposed.</exception>
    internal async ValueTask<ClientConnection> ReceiveAfterAsync(ClientConnection lost, Exception error, CancellationToken cancellationToken)
    {
        var next = await StartReconnect(lost, error).WaitAsync(cancellationToken).ConfigureAwait(false)
            ?? throw (Volatile.Read(ref _disposed) != 0 ? new ConnectionAbortedException("The client was disposed while it reconnected.") : GaveUp());
        await lost.CompleteInputAsync().ConfigureAwait(false);
        _receiveConnection = next;
        return next;
    }

    /// <summary>Completes the readers no receive will use again, once the client is disposed.</summary>
    private async ValueTask CompleteReceivingAsync()
    {
        await _receiveConnection.CompleteInputAsync().ConfigureAwait(false);
        await _connection.CompleteInputAsync().ConfigureAwait(false);
    }

    /// <summary>The connection for a send, under the send lock: the current one, or the next once a reconnect under way ends.</summary>
    private async ValueTask<ClientConnection> SendConnectionAsync(CancellationToken cancellationToken)
    {
        Task<ClientConnection?>? reconnecting;
        ClientConnection current;
        lock (_gate)
        {
            if (_gaveUp)
            {
                throw GaveUp();
            }

            reconnecting = _reconnecting;
            current = _connection;
        }

        if (reconnecting is not null)
        {
            current = await reconnecting.WaitAsync(cancellationToken).ConfigureAwait(false)
                ?? throw (Volatile.Read(ref _disposed) != 0 ? new ObjectDisposedException(nameof(SocketClient)) : GaveUp());
        }

        if (current != _sendConnection)
        {
            // Bytes a failed send left in the old writer are dropped with it: that send reported the failure.
            await _sendConnection.CompleteOutputAsync().ConfigureAwait(false);
            _sendConnection = current;
        }

        return current;
    }

    /// <summary>Starts reconnecting after <paramref name="lost"/>, unless that is done or under way; the task yields the new connection.</summary>
    private Task<ClientConnection?> StartReconnect(ClientConnection lost, Exception error)
    {
        lock (_gate)
        {
            if (_reconnecting is { } underWay)
            {
                return underWay;
            }

            if (_gaveUp || Volatile.Read(ref _disposed) != 0)
            {
                return Task.FromResult<ClientConnection?>(null);
            }

            if (_connection != lost)
            {
                return Task.FromResult<ClientConnection?>(_connection);
            }

            lost.Close();
            _reconnecting = ReconnectAsync(error);
            return _reconnecting;
        }
    }

    /// <summary>Tries to connect again, with backoff, until it succeeds, runs out of attempts, or the client is disposed; never throws.</summary>
    private async Task<ClientConnection?> ReconnectAsync(Exception error)
    {
        // Off the caller's stack: the first delay may be zero, and the caller holds the gate.
        await Task.Yield();
        var options = _reconnect!;
        var cancellation = _disposing.Token;
        ClientConnection? next = null;
        var attempt = 0;
        while (next is null && attempt < options.MaxAttempts && !cancellation.IsCancellationRequested)
        {
            attempt++;
            var delay = options.DelayBefore(attempt, Random.Shared.NextDouble());

            // The timer is set before anyone hears of the attempt, so a test's fake clock that moves on at the news
            // cannot move before it.
            var wait = Task.Delay(delay, _options.TimeProvider, cancellation);
            var args = new ReconnectEventArgs(attempt, delay, error);
            Raise(Reconnecting, args);
            try
            {
                await wait.ConfigureAwait(false);
                next = await ClientConnection.ConnectAsync(_endPoint, _options, cancellation).ConfigureAwait(false);
                Raise(Reconnected, args);
            }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
            {
                break;
            }
#pragma warning disable CA1031 // Any failure of an attempt is the next attempt's reason, or the last error.
            catch (Exception failure)
#pragma warning restore CA1031
            {
                error = failure;
            }
        }

        lock (_gate)
        {
            _reconnecting = null;
            if (next is not null && !cancellation.IsCancellationRequested)
            {
                _connection = next;
                return next;
            }

            _gaveUp = !cancellation.IsCancellationRequested;
            _lastError = error;
            _attemptsMade = attempt;
        }

        if (next is not null)
        {
            await next.CloseAsync().ConfigureAwait(false);
            await next.CompleteInputAsync().ConfigureAwait(false);
            await next.CompleteOutputAsync().ConfigureAwait(false);
        }

        return null;
    }

#pragma warning disable CA1031 // A handler's failure must not stop the reconnect, nor fault the sends waiting for it.
    private void Raise(EventHandler<ReconnectEventArgs>? handlers, ReconnectEventArgs args)
    {
        try
        {
            handlers?.Invoke(this, args);
        }
        catch (Exception)
        {
            // As StackExchange.Redis does with its connection events: the application's handler is not the connection's business.
        }
    }
#pragma warning restore CA1031

    private IOException GaveUp() => new(
        $"The connection to {_endPoint} was lost and the client gave up reconnecting after {_attemptsMade} attempt(s): {_lastError?.Message}",
        _lastError);
}
