using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Sockeye.Messaging;
using Sockeye.Transport;

namespace Sockeye.Testing;

/// <summary>
/// A connection of a real <see cref="SocketServer"/> whose socket is a pair of pipes: what <see cref="TestServer"/> gives
/// a test. The server's lifetime, registry, limits, timeouts, metrics and logs apply to it as to a socket. The handler
/// reads the transports' own input, bounded by the server's receive buffer size, and a client that sends faster than
/// the handler reads waits, as over TCP; the client's receive window is bounded too, so a client that does not read
/// pushes back on the handler (and, past the write timeout, is ended as <see cref="ConnectionEndReason.SlowReader"/>).
/// The connection ends as over a socket: the client reads the end of the stream after a close, and a reset after an
/// abort (a handler's fault, <see cref="Connection.Abort()"/>, a timeout, the server's stop), in both cases after the
/// bytes that reached it first.
/// </summary>
internal sealed class InMemoryServerConnection : TransportConnection, IDuplexPipe
{
    private readonly InMemoryInput _input;
    private readonly Pipe _output;
    private readonly InMemoryInput _toClient;
    private readonly AbortableWriter _sendBuffer;
    private readonly GuardedPipeWriter _handlerOutput;
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _sending;

    // How many bytes the handler had flushed when the connection was aborted: what the client may still get.
    private long _flushedAtAbort;

    public InMemoryServerConnection(long id, EndPoint remoteEndPoint, ConnectionDelegate pipeline, ServerContext context)
        : base(id, remoteEndPoint, pipeline, context)
    {
        _input = new InMemoryInput(context.InputSettings);
        _output = new Pipe(context.OutputPipeOptions);
        _toClient = InMemoryInput.ToClient();
        _sendBuffer = new AbortableWriter(_output.Writer, this);
        _handlerOutput = new GuardedPipeWriter(_sendBuffer);
        LocalEndPoint = new IPEndPoint(IPAddress.Loopback, 11000);
        Transport = this;
        ClientInput = _toClient.Reader;
        ClientOutput = new ClientWriter(_input.Writer, _toClient, this);
    }

    /// <summary>What the client reads: everything the server sent.</summary>
    public PipeReader ClientInput { get; }

    /// <summary>What the client writes to the server.</summary>
    public ClientWriter ClientOutput { get; }

    /// <summary>Completes once the connection has ended and the server has let go of it.</summary>
    public Task Finished => _finished.Task;

    /// <summary>What the handler threw, if it did.</summary>
    public Exception? HandlerException { get; set; }

    PipeReader IDuplexPipe.Input => _input.Reader;

    PipeWriter IDuplexPipe.Output => _handlerOutput;

    internal override bool IsReceivePaused => _input.Reader.IsPaused;

    // Nothing to linger for: no kernel here would answer unread bytes with a reset.
    protected override Task ReceivingEnded => Task.CompletedTask;

    /// <summary>The client resets the connection: the handler's next read fails, and what it writes goes nowhere.</summary>
    public void ClientReset()
    {
        if (!TrySetEndReason(ConnectionEndReason.ConnectionReset))
        {
            return;
        }

        _input.Writer.Complete(new ConnectionResetException("The client reset the connection."));
        _toClient.Reader.Complete();
        FireConnectionClosed();
    }

    /// <summary>The client wrote <paramref name="count"/> bytes to the server.</summary>
    public void ClientSent(long count)
    {
        AddBytesReceived(count);
        ReceivedBytesVisible();
    }

    /// <summary>The client ended its side (a FIN).</summary>
    public void ClientCompleted() => MarkFinReceived();

    protected override void StartTransport() => _sending = SendLoopAsync();

    protected override async ValueTask CompleteApplicationPipesAsync()
    {
        await _handlerOutput.CompleteAsync().ConfigureAwait(false);
        await _input.Reader.CompleteAsync().ConfigureAwait(false);
    }

    protected override Task FinishSendingAsync() => _sending ?? Task.CompletedTask;

    protected override bool HasBytesWaiting() => false;

    protected override Task CloseTransportAsync() => Task.CompletedTask;

    // Never lingers: receiving has always ended.
    protected override void StopLingering()
    {
    }

    protected override void AbortTransport()
    {
        // Wake whatever waits: the handler's read, the send loop on either side. The send loop resets the client's side
        // once it has passed on what the handler had flushed by now.
        Volatile.Write(ref _flushedAtAbort, _sendBuffer.Flushed);
        _input.Reader.CancelPendingRead();
        _output.Reader.CancelPendingRead();
        _toClient.Writer.CancelPendingFlush();
    }

    private protected override void OnFinished() => _finished.TrySetResult();

    /// <summary>
    /// Moves what the handler flushed to the client, a send at a time, waiting (and timed) while the client does not read.
    /// Once the connection is aborted, the client gets what the handler had flushed, as far as its window has room (as a
    /// socket's send takes it before the reset), then the reset; a close ends the client's stream instead.
    /// </summary>
    private async Task SendLoopAsync()
    {
        var reader = _output.Reader;
        var toClient = _toClient.Writer;
        var last = ReadOnlySequence<byte>.Empty;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                if (result.IsCanceled || IsAborted)
                {
                    last = result.Buffer;
                    break;
                }

                var buffer = result.Buffer;
                var clientGone = false;
                if (!buffer.IsEmpty)
                {
                    foreach (var segment in buffer)
                    {
                        toClient.Write(segment.Span);
                    }

                    BeginSend();
                    var flushed = await toClient.FlushAsync().ConfigureAwait(false);
                    EndSend();
                    if (flushed.IsCanceled || IsAborted)
                    {
                        // Aborted while the client's window was full: what it had no room for is lost with the reset.
                        break;
                    }

                    AddBytesSent(buffer.Length);
                    clientGone = flushed.IsCompleted;
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted || clientGone)
                {
                    break;
                }
            }
        }
        finally
        {
            if (IsAborted)
            {
                // Before the reader completes: the last bytes are the pipe's until then. Of those, only what the handler
                // had flushed before the abort: completing its output commits what it wrote after.
                var owed = Math.Clamp(Volatile.Read(ref _flushedAtAbort) - BytesSent, 0, last.Length);
                _toClient.ResetByServer(EndReason, last.Slice(0, owed));
            }
            else
            {
                await toClient.CompleteAsync().ConfigureAwait(false);
            }

            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The handler's writer into its send buffer, which counts what it flushes. Once the connection is aborted, a flush
    /// hands nothing on and reports that nobody reads, as a socket's does after the reset: only what was flushed before
    /// the abort reaches the client, whenever the send loop gets to it.
    /// </summary>
    private sealed class AbortableWriter(PipeWriter inner, InMemoryServerConnection connection) : PipeWriter
    {
        private long _flushed;

        /// <summary>The bytes flushed so far.</summary>
        public long Flushed => Volatile.Read(ref _flushed);

        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => inner.UnflushedBytes;

        public override void Advance(int bytes) => inner.Advance(bytes);

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            if (connection.IsAborted)
            {
                return new(new FlushResult(isCanceled: false, isCompleted: true));
            }

            Volatile.Write(ref _flushed, _flushed + inner.UnflushedBytes);
            return inner.FlushAsync(cancellationToken);
        }

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);
    }
}
