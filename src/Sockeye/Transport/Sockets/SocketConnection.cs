using System.Diagnostics.CodeAnalysis;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Sockeye.Diagnostics;
using Sockeye.Messaging;

namespace Sockeye.Transport.Sockets;

/// <summary>
/// A connection carried by <see cref="System.Net.Sockets"/>, which runs on every platform: a receive loop and a
/// send loop joined to the handler by two bounded pipes.
/// </summary>
/// <remarks>
/// The input is the epoll transport's <see cref="ConnectionInput"/>, not a <see cref="Pipe"/>: a pipe pauses its writer
/// on the bytes its reader has not yet examined, so a handler that examines everything and consumes nothing (waiting for
/// the rest of a message) let it hold up to twice the receive buffer (BackpressureTests saw 128 KiB held for 64).
/// <see cref="ConnectionInput"/> pauses on what the handler holds, consumed or not.
/// </remarks>
[SuppressMessage("Design", "CA1001", Justification = "The receiver is disposed when the connection's run ends; nothing outside owns the connection.")]
internal sealed class SocketConnection : TransportConnection, IDuplexPipe
{
    // An eighth of a block: a receive takes what is left of the input's last block down to 512 bytes, so blocks are at
    // least seven-eighths full and the receive buffer's limit (counted in bytes) costs at most about 15% more in
    // blocks. At half a block, receives of a little over 2 KiB (pieces of a stream arriving on a busy machine) would
    // leave every block half empty and double the memory held at the limit.
    private const int MinReceiveBufferSize = PinnedBlockMemoryPool.BlockSize / 8;

    private readonly Socket _socket;
    private readonly SocketReceiver _receiver = new();
    private readonly SocketSenderPool _senders;
    private readonly InputGate _gate;
    private readonly ConnectionInput _input;
    private readonly Pipe _output;
    private readonly GuardedPipeWriter _handlerOutput;

    private Task? _receiving;
    private Task? _sending;

    public SocketConnection(long id, Socket socket, SocketSenderPool senders, ConnectionDelegate pipeline, ServerContext context)
        : base(id, socket.RemoteEndPoint, pipeline, context)
    {
        _socket = socket;
        _senders = senders;
        _gate = new InputGate(context.InputSettings);
        _input = _gate.Input;
        _output = new Pipe(context.OutputPipeOptions);
        _handlerOutput = new GuardedPipeWriter(_output.Writer);
        Transport = this;
    }

    private protected override EndPoint? ResolveLocalEndPoint()
    {
        try
        {
            return _socket.LocalEndPoint;
        }
        catch (ObjectDisposedException)
        {
            // Asked for only after the socket closed; there is nothing to read it from now.
            return null;
        }
    }

    PipeReader IDuplexPipe.Input => _input;

    PipeWriter IDuplexPipe.Output => _handlerOutput;

    internal override bool IsReceivePaused => _input.IsPaused;

    protected override Task ReceivingEnded => _receiving!;

    protected override void StartTransport()
    {
        _receiving = ReceiveLoopAsync();
        _sending = SendLoopAsync();
    }

    protected override async ValueTask CompleteApplicationPipesAsync()
    {
        // Completing the output lets the send loop flush and send FIN; completing the input turns the receive
        // loop into a drain.
        await _handlerOutput.CompleteAsync().ConfigureAwait(false);
        await _input.CompleteAsync().ConfigureAwait(false);
    }

    protected override Task FinishSendingAsync() => _sending!;

    protected override bool HasBytesWaiting()
    {
        try
        {
            return _socket.Available > 0;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    protected override async Task CloseTransportAsync()
    {
        _socket.Dispose();
        await _receiving!.ConfigureAwait(false);
        _receiver.Dispose();
    }

    // The client still has not ended its side: close now, which ends the receive loop's drain (the close the closing
    // sequence makes next finds the socket closed).
    protected override void StopLingering() => _socket.Dispose();

    protected override void AbortTransport()
    {
        try
        {
            // Abortive close: send a reset and free the socket now; nothing the connection still says matters.
            _socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already closed or reset; disposing below is all that is left to do.
        }

        _socket.Dispose();

        // Wake both loops wherever they wait: the receive loop may be paused on a full input, the send loop on
        // an empty pipe. Both calls are safe from any thread.
        _gate.Close();
        _output.Reader.CancelPendingRead();
    }

    private async Task ReceiveLoopAsync()
    {
        Exception? error = null;
        try
        {
            while (true)
            {
                if (_input.IsReaderCompleted)
                {
                    // The handler stopped reading. Keep the kernel's buffer empty so closing sends no reset.
                    await DiscardAsync().ConfigureAwait(false);
                    break;
                }

                // Wait for data before taking a buffer, so an idle connection holds no receive memory.
                var ready = await _receiver.WaitForDataAsync(_socket).ConfigureAwait(false);
                if (ready.HasError)
                {
                    error = ReceiveFailed(ready.Error);
                    break;
                }

                var buffer = _input.GetReceiveMemory(PinnedBlockMemoryPool.BlockSize, MinReceiveBufferSize);
                var received = await _receiver.ReceiveAsync(_socket, buffer).ConfigureAwait(false);
                if (received.HasError || received.BytesTransferred == 0)
                {
                    _input.Abandon();
                    if (received.HasError)
                    {
                        error = ReceiveFailed(received.Error);
                    }
                    else
                    {
                        // FIN: the client ended its side. The handler may still write; the connection stays open.
                        MarkFinReceived();
                    }

                    break;
                }

                AddBytesReceived(received.BytesTransferred);

                // Backpressure: while the handler holds the receive buffer's worth, examined or not, this waits until
                // it consumes half of it. The minimum data rate does not hold that wait against the client.
                var committed = _gate.CommitAsync(received.BytesTransferred);
                ReceivedBytesVisible();
                if (!await committed.ConfigureAwait(false))
                {
                    error = AbortedError();
                    break;
                }
            }
        }
        catch (ObjectDisposedException)
        {
            error = AbortedError();
        }
        catch (Exception ex)
        {
            // A fault in the transport itself. The handler must not mistake it for a clean end of stream.
            Log.TransportError(Logger, Id, ex);
            error = ex;
            Abort(ConnectionEndReason.ConnectionReset);
        }
        finally
        {
            _input.CompleteWriter(error);
        }
    }

    /// <summary>Reads and drops what the client sends until it ends its side or the socket closes.</summary>
    private async Task DiscardAsync()
    {
        while (true)
        {
            var received = await _receiver.ReceiveAsync(_socket, DiscardBuffer.Memory).ConfigureAwait(false);

            // Errors here change nothing: nobody is reading, and the connection is on its way out.
            if (received.HasError)
            {
                return;
            }

            if (received.BytesTransferred == 0)
            {
                MarkFinReceived();
                return;
            }

            AddBytesReceived(received.BytesTransferred);
        }
    }

    private async Task SendLoopAsync()
    {
        var reader = _output.Reader;
        Exception? error = null;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                if (result.IsCanceled)
                {
                    break;
                }

                var buffer = result.Buffer;
                if (!buffer.IsEmpty)
                {
                    var sender = _senders.Rent();
                    BeginSend();
                    var sent = await sender.SendAsync(_socket, buffer).ConfigureAwait(false);
                    EndSend();
                    _senders.Return(sender);
                    if (sent.HasError)
                    {
                        error = SendFailed(sent.Error);
                        break;
                    }

                    AddBytesSent(buffer.Length);
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    // Everything the handler wrote is out: end our side so the client sees a clean end of stream.
                    ShutdownSend();
                    break;
                }
            }
        }
        catch (ObjectDisposedException)
        {
            error = AbortedError();
        }
        catch (Exception ex) when (ex is not ConnectionAbortedException and not ConnectionResetException)
        {
            // The handler completed its output with an error: the stream it wrote is not to be trusted as
            // complete, so the client gets a reset instead of a clean end.
            error = ex;
            Abort(ConnectionEndReason.HandlerError);
        }
        finally
        {
            await reader.CompleteAsync(error).ConfigureAwait(false);
        }
    }

    private void ShutdownSend()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            // The client already reset the connection; the receive loop reports it.
        }
    }
}
