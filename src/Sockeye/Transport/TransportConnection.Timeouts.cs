namespace Sockeye.Transport;

/// <summary>
/// The connection's timeouts, checked by the server's <see cref="Heartbeat"/>. The transport loops and the handler
/// only write counters and marks; every decision is taken on the heartbeat's thread, so the hot path pays for
/// no timer and no clock read.
/// </summary>
internal abstract partial class TransportConnection
{
    // Written by one sender at a time: sends begun and sends finished. They differ while a send waits for the client.
    private int _sendsStarted;
    private int _sendsFinished;

    // Written by the handler's thread (OnMessageStarted/OnMessageReceived): the message now arriving, if any.
    private long _messageStartedAt;
    private long _messageStartBytes;
    private int _messageNumber;

    // Read and written by the heartbeat only.
    private long _lastBeat;
    private long _quietSince;
    private long _bytesAtLastBeat;
    private int _timedSend = -1;
    private long _timedSendSince;
    private int _timedMessage = -1;
    private long _messagePausedTicks;

    /// <summary>The transport is not receiving because the handler is behind (backpressure), not because of the client.</summary>
    protected abstract bool IsReceivePaused { get; }

    /// <summary>A send has begun that may have to wait for the client to read.</summary>
    protected void BeginSend() => Volatile.Write(ref _sendsStarted, _sendsStarted + 1);

    /// <summary>The send begun last has finished.</summary>
    protected void EndSend() => Volatile.Write(ref _sendsFinished, _sendsStarted);

    internal sealed override void OnMessageStarted()
    {
        Volatile.Write(ref _messageStartBytes, BytesReceived);
        Volatile.Write(ref _messageStartedAt, Context.TimeProvider.GetTimestamp());
        Interlocked.Increment(ref _messageNumber);
    }

    internal sealed override void OnMessageReceived()
    {
        Volatile.Write(ref _messageStartedAt, 0);
        Context.Metrics.MessageReceived();
    }

    /// <summary>Ends the connection if one of its timeouts has passed. Runs on the heartbeat's thread.</summary>
    internal void OnHeartbeat(long now)
    {
        if (IsAborted)
        {
            return;
        }

        var sinceLastBeat = _lastBeat == 0 ? 0 : now - _lastBeat;
        _lastBeat = now;
        var reason = CheckWriteTimeout(now, out var sending)
            ?? CheckMinDataRate(now, sinceLastBeat)
            ?? CheckIdleTimeout(now, sending);
        if (reason is { } expired)
        {
            Abort(expired);
        }
    }

    private ConnectionEndReason? CheckWriteTimeout(long now, out bool sending)
    {
        var started = Volatile.Read(ref _sendsStarted);
        sending = started != Volatile.Read(ref _sendsFinished);
        if (!sending)
        {
            _timedSend = -1;
            return null;
        }

        if (_timedSend != started)
        {
            // A send the heartbeat has not seen waiting before: time it from now.
            _timedSend = started;
            _timedSendSince = now;
            return null;
        }

        var timeout = Context.Options.WriteTimeout;
        return timeout != Timeout.InfiniteTimeSpan && Elapsed(_timedSendSince, now) >= timeout
            ? ConnectionEndReason.SlowReader
            : null;
    }

    private ConnectionEndReason? CheckMinDataRate(long now, long sinceLastBeat)
    {
        var startedAt = Volatile.Read(ref _messageStartedAt);
        var options = Context.Options;
        if (startedAt == 0 || options.MinDataRate <= 0)
        {
            return null;
        }

        var number = Volatile.Read(ref _messageNumber);
        if (_timedMessage != number)
        {
            _timedMessage = number;
            _messagePausedTicks = 0;
        }
        else if (IsReceivePaused)
        {
            // The server is not reading because the handler is behind: that time is not the client's to answer for.
            _messagePausedTicks += sinceLastBeat;
        }

        var elapsed = Elapsed(startedAt, now) - Context.TimeProvider.GetElapsedTime(0, _messagePausedTicks);
        if (elapsed <= options.MinDataRateGracePeriod)
        {
            return null;
        }

        var received = BytesReceived - Volatile.Read(ref _messageStartBytes);
        return received < options.MinDataRate * elapsed.TotalSeconds ? ConnectionEndReason.SlowClient : null;
    }

    private ConnectionEndReason? CheckIdleTimeout(long now, bool sending)
    {
        if (_quietSince == 0)
        {
            _quietSince = _startTimestamp;
        }

        var moved = BytesReceived + BytesSent;
        if (moved != _bytesAtLastBeat || sending)
        {
            // Bytes moved since the last beat, or a send is waiting, which the write timeout governs.
            _bytesAtLastBeat = moved;
            _quietSince = now;
            return null;
        }

        var timeout = Context.Options.IdleTimeout;
        return timeout != Timeout.InfiniteTimeSpan && Elapsed(_quietSince, now) >= timeout
            ? ConnectionEndReason.IdleTimeout
            : null;
    }

    private TimeSpan Elapsed(long since, long now) => Context.TimeProvider.GetElapsedTime(since, now);
}
