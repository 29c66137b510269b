namespace Sockeye.Transport;

/// <summary>
/// The connection's timeouts, checked by the server's <see cref="Heartbeat"/>. The transport and the handler only
/// write counters and marks; every decision is taken on the heartbeat's thread. Time is counted in heartbeats (one
/// a second), which is all the precision timeouts of seconds need, and keeps every mark a small integer: an idle
/// connection carries a few of them, and nothing on the data path reads a clock.
/// </summary>
internal abstract partial class TransportConnection
{
    // Written by one sender at a time: sends begun and sends finished. They differ while a send waits for the client.
    private int _sendsStarted;
    private int _sendsFinished;

    // Written by the handler's thread (OnMessageStarted/OnMessageReceived): the message now arriving, if any. The
    // beat it started at is stored plus one, so that zero means "no message".
    private int _messageStartedBeat;
    private long _messageStartBytes;
    private int _messageNumber;

    // Read and written by the heartbeat only.
    private int _quietSinceBeat = -1;
    private long _bytesAtLastBeat;
    private int _timedSend = -1;
    private int _timedSendSinceBeat;
    private int _timedMessage = -1;
    private int _messagePausedBeats;

    /// <summary>The transport is not receiving because the handler is behind (backpressure), not because of the client.</summary>
    internal abstract bool IsReceivePaused { get; }

    /// <summary>A send has begun that may have to wait for the client to read.</summary>
    protected void BeginSend() => Volatile.Write(ref _sendsStarted, _sendsStarted + 1);

    /// <summary>The send begun last has finished.</summary>
    protected void EndSend() => Volatile.Write(ref _sendsFinished, _sendsStarted);

    internal sealed override void OnMessageStarted()
    {
        Volatile.Write(ref _messageStartBytes, BytesReceived);
        Volatile.Write(ref _messageStartedBeat, Context.CurrentBeat + 1);
        Interlocked.Increment(ref _messageNumber);
    }

    internal sealed override void OnMessageReceived()
    {
        Volatile.Write(ref _messageStartedBeat, 0);
        Context.Metrics.MessageReceived();
    }

    /// <summary>Ends the connection if one of its timeouts has passed. Runs on the heartbeat's thread, once a beat.</summary>
    internal void OnHeartbeat(int beat)
    {
        if (IsAborted || CheckLinger(beat))
        {
            return;
        }

        var reason = CheckWriteTimeout(beat, out var sending)
            ?? CheckMinDataRate(beat)
            ?? CheckIdleTimeout(beat, sending);
        if (reason is { } expired)
        {
            Abort(expired);
        }
    }

    /// <summary>True when the connection lingers: its handler is done, and only the linger timeout applies.</summary>
    /// <remarks>
    /// The linger is timed in <see cref="_timedMessage"/>, which times messages while the handler reads and is free once
    /// it has returned: a connection carries no field for a timeout that only its last seconds need.
    /// </remarks>
    private bool CheckLinger(int beat)
    {
        if (!HasFlag(FlagLingering))
        {
            return false;
        }

        if (SetFlag(FlagLingerTimed))
        {
            // The first beat that sees the linger: it began within the second before this beat.
            _timedMessage = beat;
            return true;
        }

        var timeout = Context.Options.LingerTimeout;
        if (timeout != Timeout.InfiniteTimeSpan && _timedMessage != int.MinValue && beat - _timedMessage >= Math.Ceiling(timeout.TotalSeconds))
        {
            // Never early, at most a second late.
            _timedMessage = int.MinValue;
            StopLingering();
        }

        return true;
    }

    private ConnectionEndReason? CheckWriteTimeout(int beat, out bool sending)
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
            _timedSendSinceBeat = beat;
            return null;
        }

        var timeout = Context.Options.WriteTimeout;
        return timeout != Timeout.InfiniteTimeSpan && beat - _timedSendSinceBeat >= timeout.TotalSeconds
            ? ConnectionEndReason.SlowReader
            : null;
    }

    private ConnectionEndReason? CheckMinDataRate(int beat)
    {
        var startedBeat = Volatile.Read(ref _messageStartedBeat) - 1;
        var options = Context.Options;
        if (startedBeat < 0 || options.MinDataRate <= 0)
        {
            return null;
        }

        var number = Volatile.Read(ref _messageNumber);
        if (_timedMessage != number)
        {
            _timedMessage = number;
            _messagePausedBeats = 0;
        }
        else if (IsReceivePaused)
        {
            // The server is not reading because the handler is behind: that time is not the client's to answer for.
            _messagePausedBeats++;
        }

        var elapsed = beat - startedBeat - _messagePausedBeats;
        if (elapsed <= options.MinDataRateGracePeriod.TotalSeconds)
        {
            return null;
        }

        var received = BytesReceived - Volatile.Read(ref _messageStartBytes);
        return received < options.MinDataRate * elapsed ? ConnectionEndReason.SlowClient : null;
    }

    private ConnectionEndReason? CheckIdleTimeout(int beat, bool sending)
    {
        if (_quietSinceBeat < 0)
        {
            // The connection began after its start beat, within the second before the next: quiet from that next beat,
            // as a connection whose bytes moved within a second is quiet from the beat that saw them. From the start
            // beat itself, the timeout could end it up to a second early.
            _quietSinceBeat = _startBeat + 1;
        }

        var moved = BytesReceived + BytesSent;
        if (moved != _bytesAtLastBeat || sending)
        {
            // Bytes moved since the last beat, or a send is waiting, which the write timeout governs.
            _bytesAtLastBeat = moved;
            _quietSinceBeat = beat;
            return null;
        }

        var timeout = Context.Options.IdleTimeout;
        return timeout != Timeout.InfiniteTimeSpan && beat - _quietSinceBeat >= timeout.TotalSeconds
            ? ConnectionEndReason.IdleTimeout
            : null;
    }
}
