using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Tasks.Sources;
using Sockeye.Messaging;

namespace Sockeye.Transport.Linux;

/// <summary>
/// The handler's side of a connection's outgoing bytes: a <see cref="PipeWriter"/> over pooled blocks. A flush
/// sends on the calling thread, straight into the socket, and completes at once when the socket takes it all,
/// which is nearly always; only when the socket is full does the rest wait for the transport to report that it
/// is writable again. A flush waits while more than the pause threshold is left unsent, and resumes at half.
/// Every block is pinned, so a transport may hand their addresses to the kernel. The gate it derives from lets one
/// writer in at a time and merges pushed messages in (<see cref="GuardedOutput"/>).
/// </summary>
internal sealed class ConnectionOutput : GuardedOutput, IValueTaskSource<FlushResult>, IThreadPoolWorkItem
{
    private readonly PipeSettings _settings;
    private readonly IOutputTransport _transport;

    // Segments from the first unsent byte to the last written one; positions are absolute, as in ConnectionInput.
    // [_sent, _flushed) may be sent; [_flushed, _written) still belongs to the writer.
    private BufferSegment? _head;
    private int _headIndex;
    private BufferSegment? _tail;
    private BufferSegment? _flushedSegment;
    private int _flushedIndex;
    private long _sent;
    private long _flushed;
    private long _written;

    private bool _blocked;

    // Raised before every send and lowered once a send took everything: a writable event that finds it lowered
    // has nothing to do and skips the lock. Raising it first means no edge can slip between a send that hit a
    // full socket and the moment that is recorded.
    private bool _sendActive;
    private bool _writerCompleted;
    private bool _transportGone;
    private bool _flushPending;

    private PipeCompletion<FlushResult> _source;
    private CancellationTokenRegistration _cancellation;
    private TaskCompletionSource? _drained;

    public ConnectionOutput(PipeSettings settings, IOutputTransport transport)
    {
        _settings = settings;
        _transport = transport;
    }

    protected override long UnflushedBytesCore => _written - Volatile.Read(ref _flushed);

    protected override bool HooksHandlerFlush => true;

    /// <summary>Bytes flushed and not yet taken by the socket.</summary>
    public long Unsent
    {
        get
        {
            lock (this)
            {
                return _flushed - _sent;
            }
        }
    }

    // ---- The writer's side (one at a time: the gate lets the handler or the push drainer in) -----------------

    protected override Memory<byte> GetMemoryCore(int sizeHint)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(sizeHint);
        var needed = Math.Max(sizeHint, 1);
        if (_tail is null || _tail.AvailableLength < needed)
        {
            lock (this)
            {
                ThrowIfWriterCompleted();
                // A reply that starts small starts in a small block; what follows it takes whole ones.
                var segment = needed <= PinnedBlockMemoryPool.BlockSize
                    ? _settings.Pool.RentSegment(_written, small: _tail is null && needed <= PinnedBlockMemoryPool.SmallBlockSize)
                    : new BufferSegment(pool: null, GC.AllocateUninitializedArray<byte>(needed, pinned: true));
                segment.Reset(_written);
                if (_tail is null)
                {
                    _head = _flushedSegment = segment;
                    _headIndex = _flushedIndex = 0;
                }
                else
                {
                    _tail.SetNext(segment);
                }

                _tail = segment;
            }
        }

        return _tail.Available;
    }

    protected override void AdvanceCore(int bytes)
    {
        if (_tail is null || (uint)bytes > (uint)_tail.AvailableLength)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), bytes, "Advanced past the memory that was asked for.");
        }

        _tail.End += bytes;
        _written += bytes;
    }

    protected override ValueTask<FlushResult> FlushCore(bool handler, CancellationToken cancellationToken)
    {
        lock (this)
        {
            if (_transportGone)
            {
                ReleaseSegments();
                return new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: true));
            }

            CommitLocked();
            if (!_blocked)
            {
                SendLocked();
            }

            if (_transportGone)
            {
                return new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: true));
            }

            if (_flushed - _sent < _settings.PauseThreshold)
            {
                ReleaseIfAllSentLocked();
                return new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: false));
            }

            if (cancellationToken.IsCancellationRequested)
            {
                return ValueTask.FromCanceled<FlushResult>(cancellationToken);
            }

            _flushPending = true;
            _source.Reset();
            if (cancellationToken.CanBeCanceled)
            {
                _cancellation = cancellationToken.UnsafeRegister(static (state, token) => ((ConnectionOutput)state!).CancelFlush(token), this);
            }

            return new ValueTask<FlushResult>(this, _source.Version);
        }
    }

    protected override ValueTask<FlushResult> WriteAndFlushCore(in ReadOnlySequence<byte> data, CancellationToken cancellationToken)
    {
        lock (this)
        {
            ThrowIfWriterCompleted();
            var rest = data;
            if (!_transportGone && !_blocked && _tail is null && _sent == _written)
            {
                // Nothing of the output's own waits (an output with everything sent holds no block): the socket takes
                // what it can straight from data, and only the rest is copied, as a flush leaves it.
                Volatile.Write(ref _sendActive, true);
                var result = _transport.Send(data);
                if (result.Error != SocketError.Success)
                {
                    DropUnsentLocked();
                    return new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: true));
                }

                if (result.WouldBlock)
                {
                    SetBlocked(true);
                }
                else
                {
                    _sent += result.Bytes;
                    _flushed = _written = _sent;
                    if (result.Bytes == data.Length)
                    {
                        Volatile.Write(ref _sendActive, false);
                        return new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: false));
                    }

                    rest = data.Slice(result.Bytes);
                }
            }

            CopyIn(rest);
            return FlushCore(handler: true, cancellationToken);
        }
    }

    protected override void CancelPendingFlushCore()
    {
        bool wake;
        lock (this)
        {
            wake = _flushPending;
            if (wake)
            {
                PrepareDispatch(new FlushResult(isCanceled: true, isCompleted: false));
            }
        }

        if (wake)
        {
            _settings.Complete(this);
        }
    }

    /// <summary>No more writes. What was written and not flushed is flushed: it is sent before the connection closes.</summary>
    protected override void CompleteCore(Exception? exception)
    {
        lock (this)
        {
            if (_writerCompleted)
            {
                return;
            }

            _writerCompleted = true;
            if (!_transportGone)
            {
                CommitLocked();
            }
        }
    }

    // ---- The transport's side -------------------------------------------------------------------------------

    /// <summary>
    /// Sends what the writer has flushed (and, once it completed, everything it wrote), and completes when the
    /// socket has taken it all or the connection is gone.
    /// </summary>
    public Task DrainAsync()
    {
        lock (this)
        {
            if (!_transportGone)
            {
                CommitLocked();
                if (!_blocked)
                {
                    SendLocked();
                }
            }

            if (_transportGone || _sent == _flushed)
            {
                ReleaseSegments();
                return Task.CompletedTask;
            }

            _drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _drained.Task;
        }
    }

    /// <summary>The socket can take more: send what waits, and let a waiting flush go on once below the resume threshold.</summary>
    public void OnWritable()
    {
        if (!Volatile.Read(ref _sendActive))
        {
            return;
        }

        var wake = false;
        TaskCompletionSource? drained = null;
        lock (this)
        {
            if (!_blocked || _transportGone)
            {
                return;
            }

            SetBlocked(false);
            SendLocked();
            if (_flushPending && (_transportGone || _flushed - _sent < _settings.ResumeThreshold))
            {
                wake = true;
                PrepareDispatch(new FlushResult(isCanceled: false, isCompleted: _transportGone));
            }

            if (_drained is not null && (_transportGone || _sent == _flushed))
            {
                drained = _drained;
                _drained = null;
            }

            if (_writerCompleted && _sent == _written)
            {
                // The writer is done, so nobody writes into the last block any more.
                ReleaseSegments();
            }
        }

        if (wake)
        {
            _settings.Complete(this);
        }

        drained?.TrySetResult();
    }

    /// <summary>The connection is gone (aborted or reset): drop what is unsent; waiting flushes see a completed reader.</summary>
    public void TransportGone()
    {
        bool wake;
        TaskCompletionSource? drained;
        lock (this)
        {
            if (_transportGone)
            {
                return;
            }

            DropUnsentLocked();
            wake = _flushPending;
            if (wake)
            {
                PrepareDispatch(new FlushResult(isCanceled: false, isCompleted: true));
            }

            drained = _drained;
            _drained = null;
        }

        if (wake)
        {
            _settings.Complete(this);
        }

        drained?.TrySetResult();
    }

    // ---- IValueTaskSource and dispatch ----------------------------------------------------------------------

    public FlushResult GetResult(short token)
    {
        try
        {
            return _source.GetResult(token);
        }
        finally
        {
            var registration = _cancellation;
            _cancellation = default;
            registration.Dispose();
            if (IsHandlerFlushPending)
            {
                // The handler's pending flush is over (the gate marked it so when FlushAsync returned, before any await).
                HandlerFlushEnded();
            }
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _source.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _source.OnCompleted(continuation, state, token, flags);

    void IThreadPoolWorkItem.Execute() => _source.Publish(this);

    private void ThrowIfWriterCompleted()
    {
        if (_writerCompleted)
        {
            throw new InvalidOperationException("Writing is not allowed after the writer was completed.");
        }
    }

    private void CommitLocked()
    {
        _flushed = _written;
        _flushedSegment = _tail;
        _flushedIndex = _tail?.End ?? 0;
    }

    /// <summary>Under the lock: hands the socket what is flushed until it is all sent or the socket is full.</summary>
    private void SendLocked()
    {
        while (_sent < _flushed)
        {
            Volatile.Write(ref _sendActive, true);
            var pending = new ReadOnlySequence<byte>(_head!, _headIndex, _flushedSegment!, _flushedIndex);
            var result = _transport.Send(pending);
            if (result.WouldBlock)
            {
                SetBlocked(true);
                return;
            }

            if (result.Error != SocketError.Success)
            {
                DropUnsentLocked();
                return;
            }

            _sent += result.Bytes;
            var position = _sent;
            while (_head != _flushedSegment && _head!.RunningIndex + _head.End <= position)
            {
                var next = _head.NextSegment;
                _head.Dispose();
                _head = next;
            }

            _headIndex = (int)(position - _head!.RunningIndex);
        }

        Volatile.Write(ref _sendActive, false);
    }

    /// <summary>
    /// Under the lock: the connection is gone, so nothing more will be sent. Every block but the last goes back to
    /// the pool; the writer may still be writing into the last one, which its next flush releases.
    /// </summary>
    private void DropUnsentLocked()
    {
        _transportGone = true;
        SetBlocked(false);
        Volatile.Write(ref _sendActive, false);
        var segment = _head;
        while (segment is not null && segment != _tail)
        {
            var next = segment.NextSegment;
            segment.Dispose();
            segment = next;
        }

        _head = _flushedSegment = _tail;
        _headIndex = _flushedIndex = _tail?.End ?? 0;
        _sent = _flushed = _written;
    }

    private void ReleaseIfAllSentLocked()
    {
        // Only the writer's own calls may drop the last block: it may be writing into it otherwise.
        if (_sent == _written && _tail is not null)
        {
            ReleaseSegments();
        }
    }

    private void SetBlocked(bool blocked)
    {
        if (_blocked != blocked)
        {
            Volatile.Write(ref _blocked, blocked);
            _transport.SendBlocked(blocked);
        }
    }

    private void CancelFlush(CancellationToken token)
    {
        bool wake;
        lock (this)
        {
            wake = _flushPending;
            if (wake)
            {
                PrepareDispatch(default, new OperationCanceledException(token));
            }
        }

        if (wake)
        {
            _settings.Complete(this);
        }
    }

    private void PrepareDispatch(FlushResult result, Exception? error = null)
    {
        _flushPending = false;
        _source.Stage(result, error);
    }

    private void ReleaseSegments()
    {
        BufferSegment.DisposeChain(_head);
        _head = _tail = _flushedSegment = null;
        _headIndex = _flushedIndex = 0;
    }
}
