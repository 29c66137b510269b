using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;

namespace Sockeye.Client;

/// <summary>
/// One connection of a <see cref="SocketClient"/>: the socket, its stream (TLS or not), and the pipes over the stream.
/// A client that reconnects has a new one per connection; the old one's pipes are completed by their own side (the
/// receive side completes the reader, the sending side the writer), so a message a reader still holds is never
/// returned to the pool under it.
/// </summary>
internal sealed class ClientConnection : IDuplexPipe
{
    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly EndWatchingStream? _underTls;
    private int _closed;

    // The byte stream is a Stream made into pipes, so a layer such as TLS can be put between the socket and the
    // pipes without changing anything above them.
    private ClientConnection(Socket socket, Stream stream, EndWatchingStream? underTls)
    {
        _socket = socket;
        _stream = stream;
        _underTls = underTls;
        Input = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
        Output = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        RemoteEndPoint = socket.RemoteEndPoint;
        LocalEndPoint = socket.LocalEndPoint;
    }

    public Socket Socket => _socket;

    public Stream Stream => _stream;

    public PipeReader Input { get; }

    public PipeWriter Output { get; }

    public EndPoint? RemoteEndPoint { get; }

    public EndPoint? LocalEndPoint { get; }

    /// <summary>
    /// Whether the server's side of a TLS connection ended without a close_notify: the TCP connection just closed, so
    /// what came last may have been cut short (by a crash, or by anyone in between). Meaningful once the input ended.
    /// </summary>
    public bool TlsEndedWithoutCloseNotify => _underTls?.Ended == true;

    /// <summary>Connects, within the options' connect timeout, and authenticates with TLS when the options ask.</summary>
    /// <exception cref="SocketException">The host name did not resolve, or the server refused or could not be reached.</exception>
    /// <exception cref="TimeoutException">Connecting took longer than the connect timeout.</exception>
    /// <exception cref="System.Security.Authentication.AuthenticationException">The TLS handshake failed or timed out.</exception>
    public static async Task<ClientConnection> ConnectAsync(EndPoint endPoint, SocketClientOptions options, CancellationToken cancellationToken)
    {
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
        EndWatchingStream? underTls = null;
        if (options.Tls is { } tls)
        {
            try
            {
                underTls = new EndWatchingStream(stream);
                stream = await ClientTls.AuthenticateAsync(underTls, tls, endPoint, options.ConnectTimeout, timeout.Token, linked.Token).ConfigureAwait(false);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        return new ClientConnection(socket, stream, underTls);
    }

    /// <summary>
    /// Closes the socket under the pipes, from any thread, for a reconnect: a read waiting on it fails once the whole
    /// messages already in the pipe are read, and a send fails. The pipes stay for their owners to complete.
    /// </summary>
    public void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        // The socket first: disposing a TLS stream over a live socket could wait on the network.
        _socket.Dispose();
        try
        {
            _stream.Dispose();
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException)
        {
            // The socket under the stream is already gone, which is the point.
        }
    }

    /// <summary>Closes the connection gracefully: the stream (for TLS, after its own end), then the socket.</summary>
    public async ValueTask CloseAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        Input.CancelPendingRead();
        try
        {
            // The socket first, so that completing the writer later has no stream left to flush leftovers to.
            await IgnoreFailureAsync(_stream.DisposeAsync).ConfigureAwait(false);
        }
        finally
        {
            _socket.Dispose();
        }
    }

    /// <summary>Ends the sending side once what was written has gone out (TCP's FIN; TLS's close_notify first).</summary>
    public async ValueTask CompleteSendingAsync(CancellationToken cancellationToken)
    {
        await Output.FlushAsync(cancellationToken).ConfigureAwait(false);
        await Output.CompleteAsync().ConfigureAwait(false);
        if (_stream is SslStream ssl)
        {
            await ssl.ShutdownAsync().ConfigureAwait(false);
        }

        _socket.Shutdown(SocketShutdown.Send);
    }

    /// <summary>Completes the reader; for the receive side, once it holds no message from it.</summary>
    public ValueTask CompleteInputAsync() => IgnoreFailureAsync(() => Input.CompleteAsync());

    /// <summary>Completes the writer; for the sending side, once no send uses it.</summary>
    public ValueTask CompleteOutputAsync() => IgnoreFailureAsync(() => Output.CompleteAsync());

#pragma warning disable CA1031 // Closing must not throw: the failure was reported by the send or receive it broke.
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
}
