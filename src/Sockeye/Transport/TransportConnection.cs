using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Sockeye.Diagnostics;
using Sockeye.Framing;
using Sockeye.Messaging;

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
    private Task? _handling;
    private readonly long _startTimestamp;
    private readonly int _startBeat;
    private long _bytesReceived;
    private long _bytesSent;
    // Every yes/no state of the connection, one bit each, in one word: an idle connection carries thousands of
    // these, so a field per flag would be a few bytes each. Transports use the bits from TransportFlag up.
    private int _flags;

    protected TransportConnection(long id, EndPoint? remoteEndPoint, ConnectionDelegate pipeline, ServerContext context)
        : base(id, remoteEndPoint)
    {
        _pipeline = pipeline;
        Context = context;
        _startTimestamp = context.TimeProvider.GetTimestamp();
        _startBeat = context.CurrentBeat;
    }

    public override long BytesReceived => Volatile.Read(ref _bytesReceived);

    private protected sealed override long MaxMessageSizeCore => Context.Options.MaxMessageSize;

    public override long BytesSent => Volatile.Read(ref _bytesSent);

    protected ServerContext Context { get; }

    /// <summary>Where the server's registry keeps this connection; -1 when it is not registered.</summary>
    internal int RegistrySlot { get; set; } = -1;

    protected ILogger Logger => Context.ConnectionLogger;

    private protected const int FlagAborted = 1;
    private protected const int FlagFinReceived = 1 << 1;
    private protected const int FlagCloseWhenBytesArrive = 1 << 2;
    private protected const int FlagClientEndedStream = 1 << 3;
    private protected const int FlagLingering = 1 << 4;
    private protected const int FlagLingerTimed = 1 << 5;
    private protected const int FlagCloseAfterHandlerError = 1 << 6;

    /// <summary>The first flag bit a transport may use for its own state.</summary>
    private protected const int TransportFlag = 1 << 8;

    protected bool IsAborted => HasFlag(FlagAborted);

    /// <summary>The client ended its sending side.</summary>
    protected bool FinReceived => HasFlag(FlagFinReceived);

    /// <summary>
    /// Starts the connection: the transport, then the handler. While the handler runs, the connection keeps no
    /// state machine of its own, only a continuation on the handler's task; the closing sequence runs when it
    /// completes. An idle connection is mostly its handler's state and its pipes.
    /// </summary>
    void IThreadPoolWorkItem.Execute()
    {
        using (BeginLogScope())
        {
            Start();
        }

        // Outside the scope: the closing sequence opens its own. A handler that ends later completes on its own context,
        // which carries the scope too, so the continuation flows this one instead (the start's, without the scope).
        if (_handling!.IsCompleted)
        {
            _ = FinishAsync();
        }
        else
        {
            _handling.ConfigureAwait(false).GetAwaiter().OnCompleted(new Action(OnHandlerCompleted));
        }
    }

    private void Start()
    {
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
                _handling = _pipeline(this);
            }
            catch (Exception ex)
            {
                _handling = Task.FromException(ex);
            }
        }
        catch (Exception ex)
        {
            // A fault in the transport itself: end this connection, never the server.
            Log.TransportError(Logger, Id, ex);
            Abort(ConnectionEndReason.ConnectionReset);
            _handling = Task.CompletedTask;
        }
    }

    private void OnHandlerCompleted() => _ = FinishAsync();

    /// <summary>The connection's scope for its log lines: its id, for every line logged while it is served.</summary>
    /// <remarks>None when the options turn it off, or when the logger logs nothing at all (no provider would see it).</remarks>
    private IDisposable? BeginLogScope() =>
        Context.ConnectionLogScopes && Logger.IsEnabled(LogLevel.Critical) ? Logger.BeginScope(new ConnectionLogScope(Id)) : null;

    private protected sealed override CancellationToken ServerDrainingToken => Context.Draining;

    internal sealed override void OnMessageSent() => Context.Metrics.MessageSent();

    internal sealed override void OnMessagesSent(int count) => Context.Metrics.MessagesSent(count);

    private protected sealed override PushSettings PushSettings => Context.PushSettings;

    internal sealed override void OnClientEndedStream() => SetFlag(FlagClientEndedStream);

    private protected sealed override void AbortCore()
    {
        if (!SetFlag(FlagAborted))
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
            SetFlag(FlagCloseWhenBytesArrive);
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
    internal void ReceivedBytesVisible()
    {
        if (HasFlag(FlagCloseWhenBytesArrive) && ClearFlag(FlagCloseWhenBytesArrive))
        {
            RequestClose();
        }
    }

    /// <summary>Starts moving bytes; called on the connection's first turn (on the thread pool, or its loop when inline), before the handler runs.</summary>
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

    /// <summary>
    /// The linger timeout has passed and the client has not ended its side: complete <see cref="ReceivingEnded"/> now,
    /// so that the close follows. Called once, by the heartbeat.
    /// </summary>
    protected abstract void StopLingering();

    /// <summary>Records received bytes: they count for the idle timeout and the minimum data rate.</summary>
    internal void AddBytesReceived(long count)
    {
        Volatile.Write(ref _bytesReceived, _bytesReceived + count);
        Context.Metrics.BytesReceived(count);
    }

    protected void AddBytesSent(long count)
    {
        Volatile.Write(ref _bytesSent, _bytesSent + count);
        Context.Metrics.BytesSent(count);
    }

    protected void MarkFinReceived() => SetFlag(FlagFinReceived);

    private protected bool HasFlag(int flag) => (Volatile.Read(ref _flags) & flag) != 0;

    /// <summary>Raises <paramref name="flag"/>; true when this call raised it, false when it was up already.</summary>
    private protected bool SetFlag(int flag) => (Interlocked.Or(ref _flags, flag) & flag) == 0;

    /// <summary>Lowers <paramref name="flag"/>; true when this call lowered it, false when it was down already.</summary>
    private protected bool ClearFlag(int flag) => (Interlocked.And(ref _flags, ~flag) & flag) != 0;

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

    /// <summary>The closing sequence, once the handler's task has completed.</summary>
    private async Task FinishAsync()
    {
        using var scope = BeginLogScope();
        var clientEndedFirst = false;
        try
        {
            try
            {
                await _handling!.ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                OnHandlerError(ex);
            }
            finally
            {
                _handling = null;
                clientEndedFirst = FinReceived || HasFlag(FlagClientEndedStream);

                // Unlisted and out of its groups before its pipes complete: what was pushed until now is sent below.
                OnHandlerEnded();

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
            OnFinished();
        }
    }

    /// <summary>The connection has ended and the server has let go of it (for the testing kit's connections).</summary>
    private protected virtual void OnFinished()
    {
    }

    /// <summary>
    /// Waits, after the FIN, for the client to end its side, reading and dropping what it still sends, so that the close
    /// finds nothing unread and sends no reset. The heartbeat ends the wait once <see cref="SocketServerOptions.LingerTimeout"/>
    /// has passed (<see cref="CheckLinger"/>): no timer per connection.
    /// </summary>
    private Task LingerAsync()
    {
        var receiving = ReceivingEnded;
        var timeout = Context.Options.LingerTimeout;
        if (receiving.IsCompleted || IsAborted || timeout == TimeSpan.Zero)
        {
            return Task.CompletedTask;
        }

        SetFlag(FlagLingering);
        return receiving;
    }

    internal override void CloseAfterHandlerError() => SetFlag(FlagCloseAfterHandlerError);

    private void OnHandlerError(Exception exception)
    {
        if (exception is ProtocolException protocolError)
        {
            // The handler's way to say the client sent what the protocol does not allow: the client's end, not the
            // server's fault. Nothing is aborted, so what the handler wrote (an error reply, say) still goes out, the
            // sending side is shut down and the client's bytes are drained, as when a handler returns: a close, not a reset.
            TrySetEndReason(protocolError.EndReason);
            Log.HandlerProtocolError(Logger, Id, EndReason, protocolError.Message);
            return;
        }

        if (TrySetEndReason(ConnectionEndReason.HandlerError))
        {
            Log.HandlerError(Logger, Id, exception);
            if (HasFlag(FlagCloseAfterHandlerError))
            {
                // The handler asked for its last words to go out (CloseAfterHandlerError): nothing is aborted, and the
                // connection closes as after a protocol error.
                return;
            }
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
