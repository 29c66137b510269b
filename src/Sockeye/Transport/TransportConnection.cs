using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Sockeye.Diagnostics;

namespace Sockeye.Transport;

/// <summary>
/// What a connection is, whichever transport carries its bytes: the lifetime around the handler, the one end
/// reason, the byte counters, the log lines and metrics, and the timeouts the heartbeat enforces.
/// </summary>
/// <remarks>
/// Lifetime: the handler runs; when it returns, its pipes are completed, what it wrote is sent, the sending side
/// is shut down (FIN), what the client still sends is drained for up to the linger timeout, and the socket is
/// closed. Closing with unread bytes would make the kernel send a reset, which can destroy a reply the client has
/// not read yet; the drain is what prevents that.
/// </remarks>
internal abstract partial class TransportConnection : Connection, IThreadPoolWorkItem
{
    private readonly ConnectionDelegate _pipeline;
    private readonly long _startTimestamp;
    private readonly int _startBeat;
    private long _bytesReceived;
    private long _bytesSent;
    private bool _finReceived;
    private bool _closeWhenBytesArrive;
    private int _aborted;

    protected TransportConnection(long id, EndPoint? remoteEndPoint, ConnectionDelegate pipeline, ServerContext context)
        : base(id, remoteEndPoint)
    {
        _pipeline = pipeline;
        Context = context;
        _startTimestamp = context.TimeProvider.GetTimestamp();
        _startBeat = context.CurrentBeat;
        MaxMessageSize = context.Options.MaxMessageSize;
    }

    public override long BytesReceived => Volatile.Read(ref _bytesReceived);

    public override long BytesSent => Volatile.Read(ref _bytesSent);

    protected ServerContext Context { get; }

    /// <summary>Where the server's registry keeps this connection; -1 when it is not registered.</summary>
    internal int RegistrySlot { get; set; } = -1;

    protected ILogger Logger => Context.ConnectionLogger;

    protected bool IsAborted => Volatile.Read(ref _aborted) != 0;

    /// <summary>The client ended its sending side.</summary>
    protected bool FinReceived => Volatile.Read(ref _finReceived);

    void IThreadPoolWorkItem.Execute() => _ = RunAsync();

    private protected sealed override CancellationToken ServerDrainingToken => Context.Draining;

    internal sealed override void OnMessageSent() => Context.Metrics.MessageSent();

    private protected sealed override void AbortCore()
    {
        if (Interlocked.Exchange(ref _aborted, 1) != 0)
        {
            return;
        }

        AbortTransport();
        FireConnectionClosed();
    }

    /// <summary>
    /// Asks the handler to finish (<see cref="Connection.CloseRequested"/>), unless the connection has received nothing
    /// yet while its client's first bytes already wait in the kernel: it is then not idle, only new (a load balancer
    /// sends a client's bytes right behind its connect), so it is asked once those bytes have reached the handler,
    /// which then finishes that message before it stops.
    /// </summary>
    internal void RequestCloseWhenReady()
    {
        if (BytesReceived == 0 && HasBytesWaiting())
        {
            Volatile.Write(ref _closeWhenBytesArrive, true);
            if (BytesReceived == 0)
            {
                return;
            }
        }

        RequestClose();
    }

    /// <summary>Bytes have arrived that the kernel holds and the transport has not read yet.</summary>
    protected abstract bool HasBytesWaiting();

    /// <summary>Received bytes are now in the handler's input: a close request waiting for them goes out.</summary>
    protected void ReceivedBytesVisible()
    {
        if (Volatile.Read(ref _closeWhenBytesArrive))
        {
            Volatile.Write(ref _closeWhenBytesArrive, false);
            RequestClose();
        }
    }

    /// <summary>Starts moving bytes; called on the connection's first thread-pool turn, before the handler runs.</summary>
    protected abstract void StartTransport();

    /// <summary>The handler and its layers are done: complete the pipes the handler saw.</summary>
    protected abstract ValueTask CompleteApplicationPipesAsync();

    /// <summary>Sends everything the handler wrote, then ends the sending side (FIN).</summary>
    protected abstract Task FinishSendingAsync();

    /// <summary>Completes when nothing more will be received: the client ended its side, or the connection failed.</summary>
    protected abstract Task ReceivingEnded { get; }

    /// <summary>Closes the socket gracefully and waits until the transport has let go of it.</summary>
    protected abstract Task CloseTransportAsync();

    /// <summary>Resets and closes the socket at once and wakes whatever waits on it. Called once.</summary>
    protected abstract void AbortTransport();

    /// <summary>Records received bytes: they count for the idle timeout and the minimum data rate.</summary>
    protected void AddBytesReceived(long count)
    {
        Volatile.Write(ref _bytesReceived, _bytesReceived + count);
        Context.Metrics.BytesReceived(count);
    }

    protected void AddBytesSent(long count)
    {
        Volatile.Write(ref _bytesSent, _bytesSent + count);
        Context.Metrics.BytesSent(count);
    }

    protected void MarkFinReceived() => Volatile.Write(ref _finReceived, true);

    protected ConnectionAbortedException AbortedError() => new($"The connection was aborted ({EndReason}).");

    /// <summary>The socket reported an error while receiving: the exception the handler's next read throws.</summary>
    protected Exception ReceiveFailed(SocketError error)
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

    /// <summary>The socket reported an error while sending. Returns null when the connection was aborted by us.</summary>
    protected ConnectionResetException? SendFailed(SocketError error)
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

    private async Task RunAsync()
    {
        // One async method for the whole lifetime: its state machine is one of the few objects an idle connection holds.
        using var scope = Logger.BeginScope(new ConnectionLogScope(Id));
        var clientEndedFirst = false;
        try
        {
            if (Logger.IsEnabled(LogLevel.Debug))
            {
                var remote = RemoteEndPoint;
                Log.ConnectionAccepted(Logger, Id, remote);
            }

            StartTransport();
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
                clientEndedFirst = FinReceived;

                // The handler and its layers are done with the pipes. A layer completes its own pipes; completing
                // them again here is harmless and covers a layer that failed before it could.
                if (Transport is not TransportConnection)
                {
                    await Transport.Output.CompleteAsync().ConfigureAwait(false);
                    await Transport.Input.CompleteAsync().ConfigureAwait(false);
                }

                await CompleteApplicationPipesAsync().ConfigureAwait(false);
            }

            await FinishSendingAsync().ConfigureAwait(false);
            await LingerAsync().ConfigureAwait(false);
            await CloseTransportAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // A fault in the transport itself: end this connection, never the server.
            Log.TransportError(Logger, Id, ex);
            Abort(ConnectionEndReason.ConnectionReset);
        }
        finally
        {
            TrySetEndReason(clientEndedFirst ? ConnectionEndReason.ClientClosed : ConnectionEndReason.ServerClosed);
            var duration = Context.TimeProvider.GetElapsedTime(_startTimestamp);
            LogEnd(duration);
            Context.Metrics.ConnectionEnded(EndReason, duration);

            // Last: whoever waits on ConnectionClosed finds the connection's place in the limit already free.
            Context.Connections.Remove(this);
            FireConnectionClosed();
        }
    }

    private async Task LingerAsync()
    {
        var receiving = ReceivingEnded;
        if (receiving.IsCompleted || IsAborted)
        {
            return;
        }

        try
        {
            await receiving.WaitAsync(Context.Options.LingerTimeout, Context.TimeProvider).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The client kept its side open past the linger timeout; close anyway.
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
