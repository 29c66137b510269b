using System.IO.Pipelines;
using System.Net;
using Sockeye.Framing;
using Sockeye.Messaging;

namespace Sockeye.Transport;

/// <summary>
/// A connection with no socket: the handler's side and a client's side joined in memory. For testing handlers and
/// protocols byte by byte, without the network. The handler reads the transports' own input, bounded as the server
/// bounds it: a client that sends faster than the handler reads waits, as over TCP. What the handler flushes reaches
/// the client's window at once, as a send on the epoll transport does, and ends as over a socket: with the end of the
/// stream when the handler returns, with a reset when the connection is aborted or the handler fails.
/// </summary>
internal sealed class InMemoryConnection : Connection, IDuplexPipe
{
    private readonly InMemoryInput _toServer;
    private readonly InMemoryInput _toClient;
    private readonly long _maxMessageSize;
    private readonly CancellationToken _serverDraining;
    private readonly GuardedPipeWriter _handlerOutput;
    private readonly PushSettings _pushSettings;
    private volatile bool _closeAfterHandlerError;

    /// <param name="id">The connection's id.</param>
    /// <param name="maxMessageSize">The server's maximum message size.</param>
    /// <param name="remoteEndPoint">The client's endpoint; 127.0.0.1:50000 when <see langword="null"/>.</param>
    /// <param name="receiveBufferSize">
    /// What the handler's input holds before the client must wait (the server's receive buffer size); by default, what a
    /// server with <paramref name="maxMessageSize"/> would allow.
    /// </param>
    /// <param name="pushSettings">The bound and policy of pushes to it; the defaults' when <see langword="null"/>.</param>
    /// <param name="serverDraining">The server's <see cref="Connection.ServerDraining"/>; never canceled by default.</param>
    public InMemoryConnection(
        long id = 1,
        long maxMessageSize = 1024 * 1024,
        EndPoint? remoteEndPoint = null,
        long receiveBufferSize = 0,
        PushSettings? pushSettings = null,
        CancellationToken serverDraining = default)
        : base(id, remoteEndPoint ?? new IPEndPoint(IPAddress.Loopback, 50000))
    {
        _pushSettings = pushSettings ?? PushSettings.Default;
        _serverDraining = serverDraining;
        if (receiveBufferSize <= 0)
        {
            receiveBufferSize = new SocketServerOptions { MaxMessageSize = maxMessageSize }.EffectiveReceiveBufferSize;
        }

        _toServer = InMemoryInput.ToHandler(receiveBufferSize);
        _toClient = InMemoryInput.ToClient();
        _handlerOutput = new GuardedPipeWriter(_toClient.Writer);
        _maxMessageSize = maxMessageSize;
        LocalEndPoint = new IPEndPoint(IPAddress.Loopback, 11000);
        Transport = this;
        Client = new DuplexPipe(_toClient.Reader, _toServer.Writer);
    }

    /// <summary>The client's side: read what the handler wrote from <c>Input</c>, write to the handler on <c>Output</c>.</summary>
    public IDuplexPipe Client { get; }

    /// <summary>What the client reads, which knows whether the server reset the connection.</summary>
    internal InMemoryInput ToClient => _toClient;

    private protected override long MaxMessageSizeCore => _maxMessageSize;

    // Bytes pass straight between the test and the handler; nothing in between counts them.
    public override long BytesReceived => 0;

    public override long BytesSent => 0;

    PipeReader IDuplexPipe.Input => _toServer.Reader;

    PipeWriter IDuplexPipe.Output => _handlerOutput;

    private protected override PushSettings PushSettings => _pushSettings;

    /// <summary>
    /// Runs <paramref name="handler"/> as the server would: when it returns, its pipes are completed (the client
    /// sees the end of the stream) and the connection ends with one reason. When it throws, the connection is aborted
    /// (the client sees a reset after what the handler sent), unless the exception is a <see cref="ProtocolException"/>
    /// or the handler asked for its last words to go out (<see cref="CloseAfterHandlerError"/>): those close it.
    /// </summary>
    public async Task RunAsync(ConnectionHandler handler)
    {
        OnHandlerStarting();
        try
        {
            await handler.OnConnectedAsync(this).ConfigureAwait(false);
        }
        catch (ProtocolException error)
        {
            // As over a socket: the client's protocol error, not the handler's, and a close.
            TrySetEndReason(error.EndReason);
        }
        catch (Exception)
        {
            // As a transport does: recorded as the connection's end reason (a test reads it from EndReason), and a reset,
            // also when the connection had already ended (the exception is then the echo of that end).
            if (!TrySetEndReason(ConnectionEndReason.HandlerError) || !_closeAfterHandlerError)
            {
                AbortCore();
            }
        }
        finally
        {
            OnHandlerEnded();
            await _handlerOutput.CompleteAsync().ConfigureAwait(false);
            await _toServer.Reader.CompleteAsync().ConfigureAwait(false);
            TrySetEndReason(ConnectionEndReason.ServerClosed);
            FireConnectionClosed();
        }
    }

    /// <summary>
    /// The client resets the connection: the handler's next read fails with <see cref="ConnectionResetException"/>
    /// and its writes go nowhere, as over a socket.
    /// </summary>
    public void Reset()
    {
        TrySetEndReason(ConnectionEndReason.ConnectionReset);
        _toServer.Writer.Complete(new ConnectionResetException("The client reset the connection."));
        _toClient.Reader.Complete();
        FireConnectionClosed();
    }

    private protected override CancellationToken ServerDrainingToken => _serverDraining;

    internal override void CloseAfterHandlerError() => _closeAfterHandlerError = true;

    private protected override void AbortCore()
    {
        // The client reads what the handler had flushed, then the reset; what the handler writes from now on goes nowhere.
        _toClient.ResetByServer(EndReason);

        // The client's writer belongs to the test; wake the handler's pending read instead of completing it.
        _toServer.Reader.CancelPendingRead();
        FireConnectionClosed();
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
