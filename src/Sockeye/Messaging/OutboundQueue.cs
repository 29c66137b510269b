using System.IO.Pipelines;
using Sockeye.Diagnostics;
using Sockeye.Transport;

namespace Sockeye.Messaging;

/// <summary>
/// One connection's messages pushed from outside its handler, waiting for its output: bounded in bytes, in the order
/// they were queued, and drained by whoever holds the output next: the handler's own flush, which sends them with its
/// reply, or a drain while the handler is not writing (on the connection's event loop on Linux, else on the thread pool).
/// Created on a connection's first push.
/// </summary>
/// <remarks>
/// A send only takes the queue's lock to add its message and, when no drain is under way, schedules one where the
/// connection says (<see cref="Connection.ScheduleOutbound"/>: its event loop on Linux, else the thread pool; the queue is
/// its own work item, so that allocates nothing). Messages that arrive while a drain waits to run are taken by it
/// together, so a burst leaves in one send.
/// </remarks>
internal sealed class OutboundQueue : IThreadPoolWorkItem, IEventLoopWork
{
    /// <summary>
    /// What each queued message counts toward the bound beyond its bytes: its place in the queue and its share of the
    /// message's own bookkeeping, so a flood of tiny messages is bounded as surely as a few large ones.
    /// </summary>
    internal const int MessageOverhead = 32;

    // Taken once per member and message by a broadcast, and held for a few instructions: see SpinGate.
    private SpinGate _gate;
    private readonly Connection _connection;
    private readonly GuardedOutput _output;
    private readonly PushSettings _settings;

    private OutboundMessage?[] _ring = new OutboundMessage?[8];
    private int _head;
    private int _count;
    private long _size;
    private long _payload;

    // A drain is queued or running (so a send need not queue one), or it found the output held and waits for the holder
    // to let go (which queues it again). At most one of the two is set; while the queue holds messages, one is.
    private bool _scheduled;
    private bool _parked;
    private bool _closed;
    private bool _dropping;

    private Waiter? _firstWaiter;
    private Waiter? _lastWaiter;

    // Used only by whoever holds the output, one at a time.
    private OutboundMessage?[]? _batch;

    private Task? _drainerFlush;

    public OutboundQueue(Connection connection, GuardedOutput output, PushSettings settings)
    {
        _connection = connection;
        _output = output;
        _settings = settings;
    }

    /// <summary>The drainer's flush, while it waits for the client: a flush of the handler's must follow it.</summary>
    public Task? DrainerFlush => Volatile.Read(ref _drainerFlush);

    /// <summary>Bytes waiting, as counted against the bound (each message's bytes and its overhead).</summary>
    public long Size
    {
        get
        {
            using (_gate.Enter())
            {
                return _size;
            }
        }
    }

    /// <summary>
    /// Queues <paramref name="message"/>, taking over one of its references whatever the outcome. Completes at once unless
    /// the queue is full under <see cref="OutboundQueuePolicy.Wait"/>.
    /// </summary>
    public ValueTask<SendStatus> Enqueue(OutboundMessage message, CancellationToken cancellationToken)
    {
        var cost = message.Length + MessageOverhead;
        var schedule = false;
        var status = SendStatus.Queued;
        var startedDropping = false;
        var overflowed = false;
        Waiter? waiter = null;
        using (_gate.Enter())
        {
            if (_closed)
            {
                status = SendStatus.Closed;
            }
            else if (_firstWaiter is null && Fits(cost))
            {
                Append(message, cost);
                schedule = !_scheduled && !_parked;
                _scheduled |= schedule;
            }
            else
            {
                switch (_settings.Policy)
                {
                    case OutboundQueuePolicy.DropNewest:
                        status = SendStatus.Dropped;
                        // Logged once per connection: a consumer that stays behind would otherwise flood the log.
                        startedDropping = !_dropping;
                        _dropping = true;
                        break;
                    case OutboundQueuePolicy.Wait when !cancellationToken.IsCancellationRequested:
                        waiter = new Waiter(this, message, cost);
                        AddWaiter(waiter);
                        break;
                    case OutboundQueuePolicy.Wait:
                        return ValueTask.FromCanceled<SendStatus>(cancellationToken);
                    case OutboundQueuePolicy.Disconnect when _settings.SlowReaderGrace > TimeSpan.Zero && !cancellationToken.IsCancellationRequested:
                        // A client that reads makes room soon: the send waits for it, which slows whoever sends to the
                        // client's pace. One that has stopped reading is ended when the grace runs out (GraceExpired).
                        waiter = new Waiter(this, message, cost);
                        AddWaiter(waiter);
                        waiter.StartGrace(_settings.TimeProvider, _settings.SlowReaderGrace);
                        break;
                    default:
                        status = SendStatus.Closed;
                        overflowed = true;
                        break;
                }
            }
        }

        if (waiter is not null)
        {
            return waiter.Wait(cancellationToken);
        }

        if (status == SendStatus.Queued)
        {
            _settings.Metrics?.OutboundQueued(message.Length);
            if (schedule)
            {
                _connection.ScheduleOutbound(this);
            }

            return new ValueTask<SendStatus>(SendStatus.Queued);
        }

        message.Release();
        if (status == SendStatus.Dropped)
        {
            _settings.Metrics?.OutboundDropped();
            if (startedDropping)
            {
                Log.OutboundQueueDropping(_settings.Logger, _connection.Id, _settings.MaxQueueSize);
            }
        }
        else if (overflowed)
        {
            Overflowed();
        }

        return new ValueTask<SendStatus>(status);
    }

    /// <summary>
    /// Moves one batch of queued messages into the output (at least one message, then up to a send buffer's worth) without
    /// flushing. The caller holds the output. Returns how many messages it moved.
    /// </summary>
    public int DrainInto(GuardedOutput output)
    {
        var batch = _batch ??= new OutboundMessage?[16];
        var taken = 0;
        long payload = 0;
        List<Waiter>? admitted = null;
        using (_gate.Enter())
        {
            while (_count > 0 && (taken == 0 || payload < _settings.BatchSize))
            {
                if (taken == batch.Length)
                {
                    Array.Resize(ref _batch, batch.Length * 2);
                    batch = _batch;
                }

                var message = _ring[_head]!;
                _ring[_head] = null;
                _head = (_head + 1) & (_ring.Length - 1);
                _count--;
                _size -= message.Length + MessageOverhead;
                payload += message.Length;
                batch[taken++] = message;
            }

            _payload -= payload;
            if (_firstWaiter is not null)
            {
                admitted = AdmitWaiters();
            }
        }

        if (taken == 0)
        {
            return 0;
        }

        try
        {
            output.WriteHeld(batch.AsSpan(0, taken), payload);
        }
        finally
        {
            for (var i = 0; i < taken; i++)
            {
                batch[i]!.Release();
                batch[i] = null;
            }

            _settings.Metrics?.OutboundQueued(-payload);
            _connection.OnMessagesSent(taken);
            Admitted(admitted);
        }

        return taken;
    }

    /// <summary>
    /// No more sends: the connection's output is completing (<paramref name="writeTo"/> then takes what is queued, before
    /// the end), or it is gone (<see langword="null"/>: what is queued is dropped). Waiting sends report
    /// <see cref="SendStatus.Closed"/>.
    /// </summary>
    public void Close(GuardedOutput? writeTo)
    {
        using (_gate.Enter())
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
        }

        if (writeTo is not null)
        {
            // The caller holds the output; the queue is closed, so these are the last.
            while (DrainInto(writeTo) > 0)
            {
            }
        }

        Waiter? waiters;
        long dropped;
        using (_gate.Enter())
        {
            dropped = _payload;
            while (_count > 0)
            {
                _ring[_head]!.Release();
                _ring[_head] = null;
                _head = (_head + 1) & (_ring.Length - 1);
                _count--;
            }

            _size = 0;
            _payload = 0;
            waiters = _firstWaiter;
            _firstWaiter = _lastWaiter = null;
            for (var waiter = waiters; waiter is not null; waiter = waiter.Next)
            {
                waiter.Linked = false;
            }
        }

        if (dropped > 0)
        {
            _settings.Metrics?.OutboundQueued(-dropped);
        }

        for (var waiter = waiters; waiter is not null; waiter = waiter.Next)
        {
            waiter.Complete(SendStatus.Closed);
        }
    }

    /// <summary>The holder of the output has let go of it; a drain that waited for that goes now.</summary>
    public void OnWriterReleased()
    {
        if (!Volatile.Read(ref _parked))
        {
            return;
        }

        using (_gate.Enter())
        {
            if (!_parked)
            {
                return;
            }

            _parked = false;
            _scheduled = true;
        }

        _connection.ScheduleOutbound(this);
    }

    /// <summary>Runs the drain: on the thread pool, or on the connection's event loop (see <see cref="Connection.ScheduleOutbound"/>).</summary>
    public void Execute() => Drain();

    /// <summary>The drain: runs while <see cref="_scheduled"/> is set, until the queue is empty or the output is held.</summary>
    private void Drain()
    {
        try
        {
            while (true)
            {
                using (_gate.Enter())
                {
                    if (_count == 0 || _closed)
                    {
                        _scheduled = false;
                        return;
                    }
                }

                if (!_output.TryEnterDrainer())
                {
                    if (Park())
                    {
                        return;
                    }

                    continue;
                }

                ValueTask<FlushResult> flush;
                try
                {
                    DrainInto(_output);
                }
                catch
                {
                    _output.LeaveDrainer();
                    throw;
                }

                try
                {
                    flush = _output.FlushHeld();
                }
                catch (Exception)
                {
                    // The connection failed under the flush (a reset the transport reports, its reason recorded already).
                    _output.LeaveDrainer();
                    Close(null);
                    return;
                }

                if (!flush.IsCompleted)
                {
                    // The client is behind: the handler may go on writing meanwhile, but its next flush must wait for this one.
                    var flushed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    Volatile.Write(ref _drainerFlush, flushed.Task);
                    _output.LeaveDrainer();
                    _ = ContinueAfterFlushAsync(flush, flushed);
                    return;
                }

                var gone = true;
                try
                {
                    gone = flush.GetAwaiter().GetResult().IsCompleted;
                }
                catch (Exception)
                {
                    // As above: the connection failed under the flush.
                }

                _output.LeaveDrainer();
                if (gone)
                {
                    // The connection is gone: nothing more will be sent.
                    Close(null);
                    return;
                }
            }
        }
        catch (Exception ex)
        {
            // A fault of the output itself (never a client's doing): end this connection, never the thread pool.
            Log.TransportError(_settings.Logger, _connection.Id, ex);
            _connection.Abort(ConnectionEndReason.ConnectionReset);
            Close(null);
        }
    }

    private async Task ContinueAfterFlushAsync(ValueTask<FlushResult> flush, TaskCompletionSource flushed)
    {
        var gone = true;
        try
        {
            gone = (await flush.ConfigureAwait(false)).IsCompleted;
        }
        catch (Exception)
        {
            // The output failed under the flush (the connection reset); its end reason is recorded already.
        }
        finally
        {
            Volatile.Write(ref _drainerFlush, null);
            flushed.SetResult();
        }

        if (gone)
        {
            Close(null);
        }
        else
        {
            Drain();
        }
    }

    /// <summary>
    /// The output is held (by the handler, mid-message or mid-flush): wait for the holder to let go. Returns false when it
    /// let go meanwhile and the drain should go on itself.
    /// </summary>
    private bool Park()
    {
        using (_gate.Enter())
        {
            _parked = true;
            _scheduled = false;
        }

        // Either the holder's release sees the mark, or this sees the release: neither can miss the other. The holder
        // releases with a plain store and reads the mark with a plain load (a handler's flush pays for no fence), so the
        // fence that orders both sides is this one, on every processor: only a drain that found the writer held pays it.
        Interlocked.MemoryBarrierProcessWide();
        if (!_output.IsFree)
        {
            return true;
        }

        using (_gate.Enter())
        {
            if (!_parked)
            {
                // The holder let go and queued a drain already.
                return true;
            }

            _parked = false;
            _scheduled = true;
        }

        return false;
    }

    private bool Fits(long cost) => _count == 0 || _size + cost <= _settings.MaxQueueSize;

    private void Append(OutboundMessage message, long cost)
    {
        if (_count == _ring.Length)
        {
            var grown = new OutboundMessage?[_ring.Length * 2];
            for (var i = 0; i < _count; i++)
            {
                grown[i] = _ring[(_head + i) & (_ring.Length - 1)];
            }

            _ring = grown;
            _head = 0;
        }

        _ring[(_head + _count) & (_ring.Length - 1)] = message;
        _count++;
        _size += cost;
        _payload += message.Length;
    }

    /// <summary>The queue overflowed under <see cref="OutboundQueuePolicy.Disconnect"/>: the client is ended as too slow.</summary>
    private void Overflowed()
    {
        if (_connection.TrySetEndReason(ConnectionEndReason.SlowReader))
        {
            Log.OutboundQueueOverflow(_settings.Logger, _connection.Id, _settings.MaxQueueSize);
            _settings.Metrics?.SlowConsumerDisconnected();
        }

        _connection.Abort(ConnectionEndReason.SlowReader);
        Close(null);
    }

    /// <summary>A send has waited for room for the whole grace: the client has stopped reading, and is ended as too slow.</summary>
    private void GraceExpired(Waiter waiter)
    {
        using (_gate.Enter())
        {
            // Admitted, canceled or closed meanwhile: the client made room, or it has ended already.
            if (!waiter.Linked)
            {
                return;
            }
        }

        Overflowed();
    }

    // ---- Sends waiting for room (OutboundQueuePolicy.Wait, and Disconnect's grace) -----------------------------

    private void AddWaiter(Waiter waiter)
    {
        waiter.Linked = true;
        if (_lastWaiter is null)
        {
            _firstWaiter = _lastWaiter = waiter;
        }
        else
        {
            waiter.Previous = _lastWaiter;
            _lastWaiter.Next = waiter;
            _lastWaiter = waiter;
        }
    }

    private void RemoveWaiter(Waiter waiter)
    {
        if (waiter.Previous is null)
        {
            _firstWaiter = waiter.Next;
        }
        else
        {
            waiter.Previous.Next = waiter.Next;
        }

        if (waiter.Next is null)
        {
            _lastWaiter = waiter.Previous;
        }
        else
        {
            waiter.Next.Previous = waiter.Previous;
        }

        waiter.Next = waiter.Previous = null;
        waiter.Linked = false;
    }

    /// <summary>Under the lock: queues the waiting sends that fit now, first come first served.</summary>
    private List<Waiter>? AdmitWaiters()
    {
        List<Waiter>? admitted = null;
        while (_firstWaiter is { } waiter && Fits(waiter.Cost))
        {
            RemoveWaiter(waiter);
            Append(waiter.Message, waiter.Cost);
            (admitted ??= []).Add(waiter);
        }

        return admitted;
    }

    private void Admitted(List<Waiter>? admitted)
    {
        if (admitted is null)
        {
            return;
        }

        foreach (var waiter in admitted)
        {
            _settings.Metrics?.OutboundQueued(waiter.Message.Length);
            waiter.Complete(SendStatus.Queued);
        }
    }

    /// <summary>
    /// A send waiting for room. Allocated only when the queue is full, under <see cref="OutboundQueuePolicy.Wait"/> or
    /// during <see cref="OutboundQueuePolicy.Disconnect"/>'s grace.
    /// </summary>
    private sealed class Waiter(OutboundQueue queue, OutboundMessage message, long cost)
    {
        private readonly TaskCompletionSource<SendStatus> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private CancellationTokenRegistration _registration;
        private ITimer? _grace;

        public OutboundMessage Message { get; } = message;

        public long Cost { get; } = cost;

        public Waiter? Next { get; set; }

        public Waiter? Previous { get; set; }

        /// <summary>In the queue's list of waiting sends; read and written under the queue's lock.</summary>
        public bool Linked { get; set; }

        public ValueTask<SendStatus> Wait(CancellationToken cancellationToken)
        {
            if (cancellationToken.CanBeCanceled)
            {
                _registration = cancellationToken.UnsafeRegister(static (state, token) => ((Waiter)state!).Cancel(token), this);
            }

            return new ValueTask<SendStatus>(_completion.Task);
        }

        /// <summary>Ends the client as too slow if this send is still waiting when <paramref name="grace"/> has passed.</summary>
        public void StartGrace(TimeProvider time, TimeSpan grace) =>
            _grace = time.CreateTimer(static state => ((Waiter)state!).GraceExpired(), this, grace, Timeout.InfiniteTimeSpan);

        private void GraceExpired() => queue.GraceExpired(this);

        public void Complete(SendStatus status)
        {
            _registration.Dispose();
            _grace?.Dispose();
            if (status != SendStatus.Queued)
            {
                Message.Release();
            }

            _completion.TrySetResult(status);
        }

        private void Cancel(CancellationToken token)
        {
            using (queue._gate.Enter())
            {
                // Admitted or closed meanwhile: the outcome is decided already.
                if (!Linked)
                {
                    return;
                }

                queue.RemoveWaiter(this);
            }

            _grace?.Dispose();
            Message.Release();
            _completion.TrySetCanceled(token);
        }
    }
}
