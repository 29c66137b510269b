using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Sockeye.Client;
using Sockeye.Framing;

namespace Sockeye;

/// <summary>
/// A TCP client that speaks in messages: it connects with a timeout (and TLS, with <see cref="SocketClientOptions.Tls"/>),
/// sends and receives messages framed by <see cref="SocketClientOptions.Framer"/>, can end its sending side while it
/// still reads, and closes cleanly.
/// </summary>
/// <remarks>
/// One send and one receive may run at the same time; two sends, or two receives, may not. The raw byte stream is
/// <see cref="Transport"/>, for protocols of your own (read it as messages with
/// <see cref="PipeReaderMessageExtensions.ReadMessagesAsync"/>, without a copy).
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
    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly MessageFramer _framer;
    private readonly long _maxMessageSize;
    private int _disposed;

    // The byte stream is a Stream made into pipes, so a layer such as TLS can be put between the socket and the
    // pipes without changing anything above them.
    private SocketClient(Socket socket, Stream stream, SocketClientOptions options)
    {
        _socket = socket;
        _stream = stream;
        _framer = options.Framer;
        _maxMessageSize = options.Framer.MaxMessageSize ?? options.MaxMessageSize;
        _input = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
        _output = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        Transport = new DuplexPipe(_input, _output);
        RemoteEndPoint = socket.RemoteEndPoint;
        LocalEndPoint = socket.LocalEndPoint;
    }

    /// <summary>The socket, for tests that check it is closed.</summary>
    internal Socket Socket => _socket;

    /// <summary>The server's endpoint.</summary>
    public EndPoint? RemoteEndPoint { get; }

    /// <summary>The client's own endpoint.</summary>
    public EndPoint? LocalEndPoint { get; }

    /// <summary>The connection's byte stream: read what the server sends from <c>Input</c>, write to <c>Output</c>.</summary>
    public IDuplexPipe Transport { get; }

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
    public static async Task<SocketClient> ConnectAsync(EndPoint endPoint, SocketClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        options ??= new SocketClientOptions();
        options.Validate();

        using var timeout = options.ConnectTimeout == Timeout.InfiniteTimeSpan
            ? new CancellationTokenSource()
            : new CancellationTokenSource(options.ConnectTimeout, options.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        Socket socket;
        try
        {
            socket = await SocketConnector.ConnectAsync(endPoint, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"Connecting to {endPoint} took longer than {options.ConnectTimeout.TotalSeconds:0.###} s.");
        }

        Stream stream = new NetworkStream(socket, ownsSocket: false);
        if (options.Tls is { } tls)
        {
            try
            {
                stream = await ClientTls.AuthenticateAsync(stream, tls, endPoint, options.ConnectTimeout, timeout.Token, linked.Token).ConfigureAwait(false);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        return new SocketClient(socket, stream, options);
    }

    /// <summary>Sends <paramref name="message"/>, framed, and waits until it is handed to the network.</summary>
    /// <param name="message">The message, without framing.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes once the message is sent.</returns>
    /// <exception cref="ArgumentException">The message cannot be framed in this format.</exception>
    /// <exception cref="IOException">The connection failed; its inner exception is the <see cref="SocketException"/>.</exception>
    public async ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        _framer.WriteMessage(message.Span, _output);
        await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Receives the next message.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The message, without framing; <see langword="null"/> once the server has ended the stream between two messages.</returns>
    /// <exception cref="ProtocolException">The server sent a message larger than the maximum, or ended the stream in the middle of one.</exception>
    /// <exception cref="IOException">The connection failed; its inner exception is the <see cref="SocketException"/>.</exception>
    public async ValueTask<byte[]?> ReceiveAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

        // A reader per message: the message is copied out before the next read, so nothing needs to outlive the call.
        var reader = new MessageReader<ReadOnlySequence<byte>>(_input, _framer, _maxMessageSize, cancellationToken: cancellationToken);
        try
        {
            return await reader.MoveNextAsync().ConfigureAwait(false) ? reader.Current.ToArray() : null;
        }
        finally
        {
            await reader.DisposeAsync().ConfigureAwait(false);
        }
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
        await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
        await _output.CompleteAsync().ConfigureAwait(false);

        // TLS ends its own stream first, with close_notify: the server can tell the end from a connection cut short.
        if (_stream is SslStream ssl)
        {
            await ssl.ShutdownAsync().ConfigureAwait(false);
        }

        _socket.Shutdown(SocketShutdown.Send);
    }

    /// <summary>
    /// Closes the connection. What was sent has been handed to the network; nothing more is read, and a receive
    /// still waiting ends with <see cref="ConnectionAbortedException"/>.
    /// </summary>
    /// <returns>A task that completes once the connection is closed.</returns>
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

        try
        {
            _input.CancelPendingRead();

            // The socket first, so that completing the writer below has no stream left to flush leftovers to.
            await IgnoreFailureAsync(_stream.DisposeAsync).ConfigureAwait(false);
        }
        finally
        {
            _socket.Dispose();
        }

        await IgnoreFailureAsync(() => _input.CompleteAsync()).ConfigureAwait(false);
        await IgnoreFailureAsync(() => _output.CompleteAsync()).ConfigureAwait(false);
    }

#pragma warning disable CA1031 // Dispose must not throw; see DisposeAsync.
    private static async ValueTask IgnoreFailureAsync(Func<ValueTask> close)
    {
        try
        {
            await close().ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The connection failed or was closed under a send or a receive, which reported it; closing goes on.
        }
    }
#pragma warning restore CA1031

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
