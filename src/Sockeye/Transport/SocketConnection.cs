using System.Diagnostics.CodeAnalysis;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Sockeye.Diagnostics;

namespace Sockeye.Transport;

/// <summary>
/// A connection over a socket: a receive loop and a send loop joined to the handler by two bounded pipes.
/// </summary>
/// <remarks>
/// Lifetime: the handler runs; when it returns, its pipes are completed, the send loop flushes what is left
/// and shuts down the sending side (FIN), the receive loop drains what the client still sends for up to the
/// linger timeout, and the socket is closed. Closing with unread bytes would make the kernel send a reset,
/// which can destroy a reply the client has not read yet; the drain is what prevents that.
/// </remarks>
[SuppressMessage("Design", "CA1001", Justification = "The receiver is disposed when the connection's run ends; nothing outside owns the connection.")]
internal sealed partial class SocketConnection : Connection, IDuplexPipe, IThreadPoolWorkItem
{
    // Half a block, so a receive never asks the pipe for less room than a typical segment holds.
    private const int MinReceiveBufferSize = PinnedBlockMemoryPool.BlockSize / 2;

    // Bytes read only to be thrown away (after the handler stopped reading) land here. Many connections may
    // receive into it at once; nothing ever reads it, so sharing it costs nothing and holds no per-connection memory.
    private static readonly byte[] s_discard = GC.AllocateUninitializedArray<byte>(PinnedBlockMemoryPool.BlockSize, pinned: true);

    private readonly Socket _socket;
    private readonly ServerContext _context;
    private readonly ConnectionDelegate _pipeline;
    private readonly SocketReceiver _receiver = new();
    private readonly Pipe _input;
    private readonly Pipe _output;
    private readonly long _startTimestamp;

    private EndPoint? _localEndPoint;
    private long _bytesReceived;
    private long _bytesSent;
    private bool _finReceived;
    private int _aborted;

    public SocketConnection(long id, Socket socket, ConnectionDelegate pipeline, ServerContext context)
        : base(id, socket.RemoteEndPoint)
    {
        _socket = socket;
        _pipeline = pipeline;
        _context = context;
        _input = new Pipe(context.InputPipeOptions);
        _output = new Pipe(context.OutputPipeOptions);
        _startTimestamp = context.TimeProvider.GetTimestamp();
        MaxMessageSize = context.Options.MaxMessageSize;
        Transport = this;
    }

    public override EndPoint? LocalEndPoint
    {
        get
        {
            if (ProxiedLocalEndPoint is { } proxied)
            {
                return proxied;
            }

            if (_localEndPoint is null)
            {
                try
                {
                    _localEndPoint = _socket.LocalEndPoint;
                }
                catch (ObjectDisposedException)
                {
                    // Asked for only after the socket closed; there is nothing to read it from now.
                }
            }

            return _localEndPoint;
        }
    }

    public override long BytesReceived => Volatile.Read(ref _bytesReceived);

    public override long BytesSent => Volatile.Read(ref _bytesSent);

    PipeReader IDuplexPipe.Input => _input.Reader;

    PipeWriter IDuplexPipe.Output => _output.Writer;

    private ILogger Logger => _context.ConnectionLogger;

    private bool IsAborted => Volatile.Read(ref _aborted) != 0;

    void IThreadPoolWorkItem.Execute() => _ = RunAsync();

    private protected override void AbortCore()
    {
        if (Interlocked.Exchange(ref _aborted, 1) != 0)
        {
            return;
        }

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

        // Wake both loops wherever they wait: the receive loop may be paused on a full pipe, the send loop on
        // an empty one. Both calls are safe from any thread.
        _input.Writer.CancelPendingFlush();
        _output.Reader.CancelPendingRead();
        FireConnectionClosed();
    }

    private async Task RunAsync()
    {
        using var scope = Logger.BeginScope(new ConnectionLogScope(Id));
        try
        {
            await RunCoreAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // A fault in the transport itself: end this connection, never the server.
            Log.TransportError(Logger, Id, ex);
            Abort(ConnectionEndReason.ConnectionReset);
            _socket.Dispose();
        }
        finally
        {
            TrySetEndReason(ConnectionEndReason.ServerClosed);
            var duration = _context.TimeProvider.GetElapsedTime(_startTimestamp);
            LogEnd(duration);
            _context.Metrics.ConnectionEnded(EndReason, duration);

            // Last: whoever waits on ConnectionClosed finds the connection's place in the limit already free.
            _context.Connections.Remove(this);
            FireConnectionClosed();
        }
    }

    private async Task RunCoreAsync()
    {
        Log.ConnectionAccepted(Logger, Id, RemoteEndPoint);

        var receiving = ReceiveLoopAsync();
        var sending = SendLoopAsync();
        bool clientEndedFirst;
        try
        {
            await _pipeline(this).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            OnHandlerError(ex);
        }
        finally
        {
            clientEndedFirst = Volatile.Read(ref _finReceived);

            // The handler and its layers are done with the pipes. Completing the output lets the send loop flush
            // and send FIN; completing the input turns the receive loop into a drain. A layer completes its own
            // pipes; completing them again here is harmless and covers a layer that failed before it could.
            if (!ReferenceEquals(Transport, this))
            {
                await Transport.Output.CompleteAsync().ConfigureAwait(false);
                await Transport.Input.CompleteAsync().ConfigureAwait(false);
            }

            await _output.Writer.CompleteAsync().ConfigureAwait(false);
            await _input.Reader.CompleteAsync().ConfigureAwait(false);
        }

        await sending.ConfigureAwait(false);
        await LingerAsync(receiving).ConfigureAwait(false);

        _socket.Dispose();
        await receiving.ConfigureAwait(false);
        _receiver.Dispose();

        TrySetEndReason(clientEndedFirst ? ConnectionEndReason.ClientClosed : ConnectionEndReason.ServerClosed);
    }

    private async Task ReceiveLoopAsync()
    {
        var writer = _input.Writer;
        Exception? error = null;
        try
        {
            while (true)
            {
                // Wait for data before taking a buffer, so an idle connection holds no receive memory.
                var ready = await _receiver.WaitForDataAsync(_socket).ConfigureAwait(false);
                if (ready.HasError)
                {
                    error = ReceiveFailed(ready.Error);
                    break;
                }

                var buffer = writer.GetMemory(MinReceiveBufferSize);
                var received = await _receiver.ReceiveAsync(_socket, buffer).ConfigureAwait(false);
                if (received.HasError)
                {
                    error = ReceiveFailed(received.Error);
                    break;
                }

                if (received.BytesTransferred == 0)
                {
                    // FIN: the client ended its side. The handler may still write; the connection stays open.
                    Volatile.Write(ref _finReceived, true);
                    break;
                }

                writer.Advance(received.BytesTransferred);
                Volatile.Write(ref _bytesReceived, _bytesReceived + received.BytesTransferred);
                _context.Metrics.BytesReceived(received.BytesTransferred);

                // Backpressure: this waits while the handler holds more than the receive buffer's worth. The
                // minimum data rate does not hold that wait against the client.
                var flushing = writer.FlushAsync();
                if (!flushing.IsCompleted)
                {
                    Volatile.Write(ref _receivePaused, true);
                }

                var flushed = await flushing.ConfigureAwait(false);
                Volatile.Write(ref _receivePaused, false);
                if (flushed.IsCanceled)
                {
                    error = AbortedError();
                    break;
                }

                if (flushed.IsCompleted)
                {
                    // The handler stopped reading. Keep the kernel's buffer empty so closing sends no reset.
                    await DiscardAsync().ConfigureAwait(false);
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
            await writer.CompleteAsync(error).ConfigureAwait(false);
        }
    }

    /// <summary>Reads and drops what the client sends until it ends its side or the socket closes.</summary>
    private async Task DiscardAsync()
    {
        while (true)
        {
            var received = await _receiver.ReceiveAsync(_socket, s_discard).ConfigureAwait(false);

            // Errors here change nothing: nobody is reading, and the connection is on its way out.
            if (received.HasError)
            {
                return;
            }

            if (received.BytesTransferred == 0)
            {
                Volatile.Write(ref _finReceived, true);
                return;
            }

            Volatile.Write(ref _bytesReceived, _bytesReceived + received.BytesTransferred);
            _context.Metrics.BytesReceived(received.BytesTransferred);
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
                    var sender = _context.SenderPool.Rent();
                    Volatile.Write(ref _sendsStarted, _sendsStarted + 1);
                    var sent = await sender.SendAsync(_socket, buffer).ConfigureAwait(false);
                    Volatile.Write(ref _sendsFinished, _sendsStarted);
                    _context.SenderPool.Return(sender);
                    if (sent.HasError)
                    {
                        error = SendFailed(sent.Error);
                        break;
                    }

                    Volatile.Write(ref _bytesSent, _bytesSent + buffer.Length);
                    _context.Metrics.BytesSent(buffer.Length);
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

    private async Task LingerAsync(Task receiving)
    {
        if (receiving.IsCompleted || IsAborted)
        {
            return;
        }

        try
        {
            await receiving.WaitAsync(_context.Options.LingerTimeout, _context.TimeProvider).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The client kept its side open past the linger timeout; close anyway.
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

    private void OnHandlerError(Exception exception)
    {
        if (TrySetEndReason(ConnectionEndReason.HandlerError))
        {
            Log.HandlerError(Logger, Id, exception);
        }
        else
        {
            // The connection had already ended (a reset, a timeout, an abort) and the handler's exception is
            // the echo of that, not a fault of its own.
            Log.HandlerErrorAfterEnd(Logger, Id, EndReason, exception);
        }

        AbortCore();
    }

    private ConnectionAbortedException AbortedError() =>
        new($"The connection was aborted ({EndReason}).");

    private Exception ReceiveFailed(SocketError error)
    {
        if (IsAborted || SocketErrors.IsAbortedByUs(error))
        {
            return AbortedError();
        }

        if (!SocketErrors.IsConnectionReset(error))
        {
            Log.UnexpectedSocketError(Logger, Id, error, "receiving");
        }

        TrySetEndReason(ConnectionEndReason.ConnectionReset);
        FireConnectionClosed();
        return new ConnectionResetException($"The client reset the connection ({error}).", new SocketException((int)error));
    }

    private ConnectionResetException? SendFailed(SocketError error)
    {
        if (IsAborted || SocketErrors.IsAbortedByUs(error))
        {
            return null;
        }

        if (!SocketErrors.IsConnectionReset(error) && error != SocketError.Shutdown)
        {
            Log.UnexpectedSocketError(Logger, Id, error, "sending");
        }

        TrySetEndReason(ConnectionEndReason.ConnectionReset);
        FireConnectionClosed();
        return new ConnectionResetException($"The client reset the connection ({error}).", new SocketException((int)error));
    }

    internal override void OnMessageSent() => _context.Metrics.MessageSent();

    private void LogEnd(TimeSpan duration)
    {
        var reason = EndReason;
        var level = Log.LevelFor(reason);
        if (Logger.IsEnabled(level))
        {
            Log.ConnectionEnded(Logger, level, Id, reason, BytesReceived, BytesSent, duration.TotalMilliseconds);
        }
    }
}
