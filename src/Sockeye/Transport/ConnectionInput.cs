using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.IO.Pipelines;
using System.Threading.Tasks.Sources;

namespace Sockeye.Transport;

/// <summary>
/// The handler's side of a connection's incoming bytes: a <see cref="PipeReader"/> over pooled blocks that the
/// transport receives into directly. It behaves as <see cref="Pipe"/>'s reader does (examined and consumed
/// positions, one read at a time, the writer's error surfacing on the next read, backpressure with resume at
/// half the pause threshold), but costs one small object per connection, holds no block while nothing is
/// buffered, and hands completions to the thread pool without allocating.
/// </summary>
internal sealed class ConnectionInput : PipeReader, IValueTaskSource<ReadResult>, IValueTaskSource, IThreadPoolWorkItem
{
    // A receive is given at least this much room; less, and the next block is started instead.
    private const int MinReceiveSize = PinnedBlockMemoryPool.BlockSize / 2;

    private readonly PipeSettings _settings;
    private readonly IInputTransport _transport;

    // Segments from the first unconsumed byte to the last committed one. Positions are absolute byte counts
    // since the connection began; a segment's RunningIndex is the absolute position of its first byte.
    private BufferSegment? _head;
    private int _headIndex;
    private BufferSegment? _tail;
    private long _consumed;
    private long _examined;
    private long _committed;

    private bool _receiving;
    private bool _paused;
    private bool _writerCompleted;
    private Exception? _writerError;
    private bool _readerCompleted;
    private bool _cancelNextRead;
    private bool _readPending;
    private bool _holdingResult;
    private bool _waitedCanceled;
    private bool _endsOnCloseRequest;

    // The result itself is built when the reader collects it (GetResult), from the state then: the source carries
    // only whether the read was canceled, and an error when there is one (staged under the lock, published after).
    private PipeCompletion<bool> _source;
    private CancellationTokenRegistration _cancellation;

    public ConnectionInput(PipeSettings settings, IInputTransport transport)
    {
        _settings = settings;
        _transport = transport;
    }

    /// <summary>The transport stopped receiving because the reader is behind, and has not been told to resume.</summary>
    public bool IsPaused
    {
        get
        {
            lock (this)
            {
                return _paused;
            }
        }
    }

    /// <summary>
    /// <see cref="IsPaused"/> without the lock, for the transport's own receive path, once per arrival. Only the transport
    /// pauses, so it never reads a pause that is over as not begun; it may read one as still on that the reader has just
    /// ended, and then the resume the reader posts (<see cref="IInputTransport.ResumeReceiving"/>) brings it back.
    /// </summary>
    public bool IsPausedForTransport => Volatile.Read(ref _paused);

    public bool IsReaderCompleted => Volatile.Read(ref _readerCompleted);

    // ---- The transport's side -------------------------------------------------------------------------------

    /// <summary>Room for the next receive. The transport then calls <see cref="Commit"/> or <see cref="Abandon"/>.</summary>
    /// <param name="size">What the transport has to put there, if it knows: a few bytes into an empty input take a small block.</param>
    /// <param name="minimumRoom">
    /// The least room worth receiving into: with less left in the last block, the next block is started. A transport that
    /// receives straight into the blocks asks for little, so that blocks end up nearly full.
    /// </param>
    public Memory<byte> GetReceiveMemory(int size = MinReceiveSize, int minimumRoom = MinReceiveSize)
    {
        lock (this)
        {
            if (_tail is null)
            {
                StartLocked(size);
            }
            else if (_tail.AvailableLength < Math.Min(size, minimumRoom))
            {
                var next = _settings.Pool.RentSegment(0);
                _tail.SetNext(next);
                _tail = next;
            }

            _receiving = true;
            return _tail.Available;
        }
    }

    /// <summary>
    /// Copies received bytes in (a transport that receives into a buffer of its own), into a small block when they
    /// are few and the input is empty. Returns <see langword="false"/> when the transport must stop receiving, as
    /// <see cref="Commit"/> does.
    /// </summary>
    public bool Append(ReadOnlySpan<byte> data)
    {
        // Most arrivals fit in one block: copied and committed under one lock.
        if (TryAppendWhole(data, out var keepReceiving))
        {
            return keepReceiving;
        }

        while (true)
        {
            var memory = GetReceiveMemory(data.Length);
            var count = Math.Min(memory.Length, data.Length);
            data[..count].CopyTo(memory.Span);
            data = data[count..];
            if (data.IsEmpty)
            {
                return Commit(count);
            }

            // The reader is woken once, for the whole arrival: woken per block, an inline reader would run (and
            // send) once per block of a large read.
            CommitCore(count, publish: false);
        }
    }

    /// <summary>
    /// Starts a receive straight into the input, for a transport that reads a large arrival with one scattered system
    /// call instead of copying it in: the room left in the last block (returned, at most <paramref name="size"/> bytes),
    /// then whole blocks from the pool in <paramref name="blocks"/>, as many as the rest of <paramref name="size"/> needs
    /// and <paramref name="blocks"/> holds. The transport fills them in that order, then calls <see cref="EndScatter"/>.
    /// </summary>
    public Memory<byte> BeginScatter(int size, Span<BufferSegment?> blocks, out int blockCount)
    {
        Memory<byte> tail;
        lock (this)
        {
            // While receiving, the reader releases no block: the last one stays the input's to receive into.
            _receiving = true;
            tail = _tail is null ? Memory<byte>.Empty : _tail.Available;
        }

        if (tail.Length > size)
        {
            tail = tail[..size];
        }

        // Placed in the sequence when the input takes them (EndScatter).
        blockCount = Math.Min(blocks.Length, (size - tail.Length + PinnedBlockMemoryPool.BlockSize - 1) / PinnedBlockMemoryPool.BlockSize);
        _settings.Pool.RentSegments(blocks[..blockCount]);
        return tail;
    }

    /// <summary>
    /// Ends a receive begun with <see cref="BeginScatter"/>: <paramref name="received"/> bytes (0 or less for none) filled
    /// the <paramref name="tailRoom"/> bytes of room in the last block first, then <paramref name="blocks"/> in order. The
    /// input takes the blocks that hold bytes as they are, gives the rest back to the pool and wakes the reader once.
    /// Returns <see langword="false"/> when the transport must stop receiving, as <see cref="Commit"/> does.
    /// </summary>
    public bool EndScatter(nint received, int tailRoom, ReadOnlySpan<BufferSegment?> blocks)
    {
        var used = 0;
        var wake = false;
        var keepReceiving = true;
        lock (this)
        {
            if (received <= 0 || _readerCompleted)
            {
                AbandonLocked();
            }
            else
            {
                // What filled the last block's room, then the blocks it spilled into, linked as they are.
                _receiving = false;
                var tailBytes = (int)Math.Min(tailRoom, received);
                if (tailBytes > 0)
                {
                    _tail!.End += tailBytes;
                }

                for (var left = (int)received - tailBytes; left > 0; used++)
                {
                    var block = blocks[used]!;
                    if (_tail is null)
                    {
                        block.Reset(_committed);
                        _head = block;
                        _headIndex = 0;
                    }
                    else
                    {
                        _tail.SetNext(block);
                    }

                    _tail = block;
                    block.End = Math.Min(left, block.Array.Length);
                    left -= block.End;
                }

                keepReceiving = CommittedLocked(received, publish: true, out wake);
            }
        }

        _settings.Pool.ReturnSegments(blocks[used..]);

        if (wake)
        {
            _settings.Complete(this);
        }

        return keepReceiving;
    }

    /// <summary>How much the transport may receive now before the reader holds as much as the pause threshold.</summary>
    public int ReceiveRoom
    {
        get
        {
            // No lock: only the transport, the caller, moves _committed, and _consumed only grows, so a stale read gives
            // less room, never more. (A long is read whole on 64-bit platforms; elsewhere Interlocked.Read makes it so.)
            var consumed = IntPtr.Size == 8 ? Volatile.Read(ref _consumed) : Interlocked.Read(ref _consumed);
            return (int)Math.Clamp(_settings.PauseThreshold - (_committed - consumed), MinReceiveSize, int.MaxValue);
        }
    }

    /// <summary>
    /// Makes <paramref name="count"/> received bytes readable. Returns <see langword="false"/> when the reader holds
    /// as much as the pause threshold: the transport must stop receiving until <see cref="IInputTransport.ResumeReceiving"/>.
    /// </summary>
    public bool Commit(int count) => CommitCore(count, publish: true);

    private bool CommitCore(int count, bool publish)
    {
        bool wake;
        bool keepReceiving;
        lock (this)
        {
            _receiving = false;
            if (_readerCompleted)
            {
                ReleaseSegments();
                return true;
            }

            keepReceiving = CommitLocked(count, publish, out wake);
        }

        if (wake)
        {
            _settings.Complete(this);
        }

        return keepReceiving;
    }

    /// <summary>
    /// <see cref="Append"/>'s common case: when <paramref name="data"/> fits in the last block, or in a new one, it is
    /// copied and committed under one lock. False when it must be split across blocks instead.
    /// </summary>
    private bool TryAppendWhole(ReadOnlySpan<byte> data, out bool keepReceiving)
    {
        bool wake;
        lock (this)
        {
            if (_readerCompleted)
            {
                keepReceiving = true;
                return true;
            }

            if (data.Length > (_tail?.AvailableLength ?? PinnedBlockMemoryPool.BlockSize))
            {
                keepReceiving = true;
                return false;
            }

            if (_tail is null)
            {
                StartLocked(data.Length);
            }

            data.CopyTo(_tail.Available.Span);
            keepReceiving = CommitLocked(data.Length, publish: true, out wake);
        }

        if (wake)
        {
            _settings.Complete(this);
        }

        return true;
    }

    /// <summary>Under the lock, with no block held: the first block, small when <paramref name="size"/> bytes fit in one.</summary>
    [MemberNotNull(nameof(_tail), nameof(_head))]
    private void StartLocked(int size)
    {
        _tail = _head = _settings.Pool.RentSegment(_committed, small: size <= PinnedBlockMemoryPool.SmallBlockSize);
        _headIndex = 0;
    }

    /// <summary>Under the lock: <paramref name="count"/> bytes written after the last block's end become readable.</summary>
    private bool CommitLocked(int count, bool publish, out bool wake)
    {
        _tail!.End += count;
        return CommittedLocked(count, publish, out wake);
    }

    /// <summary>Under the lock: <paramref name="count"/> bytes, already in the blocks' ends, become readable.</summary>
    private bool CommittedLocked(long count, bool publish, out bool wake)
    {
        _committed += count;
        wake = publish && _readPending;
        var keepReceiving = _committed - _consumed < _settings.PauseThreshold;
        if (publish)
        {
            _paused = !keepReceiving;
        }

        if (wake)
        {
            PrepareDispatch(canceled: false);
        }

        return keepReceiving;
    }

    /// <summary>The receive brought nothing; give back room that holds nothing.</summary>
    public void Abandon()
    {
        lock (this)
        {
            AbandonLocked();
        }
    }

    /// <summary>
    /// Nothing more will arrive: the peer ended its side (no error) or the connection failed (an error the next read
    /// throws). The transport's last call: room it took for a receive that never committed (one that threw) is given back.
    /// </summary>
    public void CompleteWriter(Exception? error)
    {
        bool wake;
        lock (this)
        {
            if (_receiving)
            {
                AbandonLocked();
            }

            if (_writerCompleted)
            {
                return;
            }

            _writerCompleted = true;
            _writerError = error;
            wake = _readPending;
            if (wake)
            {
                PrepareDispatch(canceled: false, error);
            }
        }

        if (wake)
        {
            _settings.Complete(this);
        }
    }

    // ---- The reader's side ----------------------------------------------------------------------------------

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) =>
        ReadCore(closeSource: null, cancellationToken);

    /// <summary>
    /// A read between messages: <see cref="ReadAsync"/>, which also ends, canceled, once <paramref name="connection"/> is
    /// asked to close (<see cref="Connection.RequestClose"/> calls <see cref="OnCloseRequested"/>), and at once when it
    /// has been. The connection's <see cref="Connection.CloseRequested"/> token is never made: a framed handler's wait
    /// for its next message costs no token source and no registration.
    /// </summary>
    public ValueTask<ReadResult> ReadUntilCloseRequestedAsync(Connection connection, CancellationToken cancellationToken) =>
        ReadCore(connection, cancellationToken);

    /// <summary>
    /// The connection was asked to close: a pending <see cref="ReadUntilCloseRequestedAsync"/> ends, canceled, on the
    /// thread pool (the caller is the server's stop, which must not run handlers). Any other read is left alone, and
    /// nothing is kept for a later one.
    /// </summary>
    public void OnCloseRequested()
    {
        lock (this)
        {
            if (!_readPending || !_endsOnCloseRequest)
            {
                return;
            }

            PrepareDispatch(canceled: true);
        }

        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    /// <summary>A read; with <paramref name="closeSource"/>, one that a request to close that connection also ends.</summary>
    private ValueTask<ReadResult> ReadCore(Connection? closeSource, CancellationToken cancellationToken)
    {
        lock (this)
        {
            BeginRead();
            if (cancellationToken.IsCancellationRequested)
            {
                return ValueTask.FromCanceled<ReadResult>(cancellationToken);
            }

            // Checked under the lock that OnCloseRequested takes after the request is marked: either this sees the
            // request, or that sees this read pending.
            if (closeSource is { IsCloseRequested: true })
            {
                _holdingResult = true;
                return new ValueTask<ReadResult>(BuildResult(canceled: true));
            }

            if (TryReadLocked(out var result))
            {
                return new ValueTask<ReadResult>(result);
            }

            _readPending = true;
            _endsOnCloseRequest = closeSource is not null;
            _source.Reset();
            if (cancellationToken.CanBeCanceled)
            {
                _cancellation = cancellationToken.UnsafeRegister(static (state, token) => ((ConnectionInput)state!).CancelRead(token), this);
            }

            return new ValueTask<ReadResult>(this, _source.Version);
        }
    }

    /// <summary>
    /// A read whose result is collected afterwards with <see cref="TakeResult"/>. What awaits it holds 16 bytes rather
    /// than a <see cref="ReadResult"/>'s 48: in a handler's state machine, which every idle connection carries, that
    /// counts. No cancellation token: a pending wait ends with <see cref="CancelPendingRead"/> or the connection.
    /// </summary>
    public ValueTask WaitAsync()
    {
        lock (this)
        {
            BeginRead();
            if (TryReadLocked(out var result))
            {
                _waitedCanceled = result.IsCanceled;
                return ValueTask.CompletedTask;
            }

            _readPending = true;
            _source.Reset();
            return new ValueTask(this, _source.Version);
        }
    }

    /// <summary>The result of the read that <see cref="WaitAsync"/> waited for; advance it as any read's.</summary>
    public ReadResult TakeResult()
    {
        lock (this)
        {
            if (!_holdingResult)
            {
                throw new InvalidOperationException("No read to take: TakeResult must follow a completed WaitAsync.");
            }

            return BuildResult(_waitedCanceled);
        }
    }

    public override bool TryRead(out ReadResult result)
    {
        lock (this)
        {
            BeginRead();
            return TryReadLocked(out result);
        }
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        bool resume;
        lock (this)
        {
            if (_readerCompleted)
            {
                throw new InvalidOperationException("Reading is not allowed after the reader was completed.");
            }

            if (!_holdingResult)
            {
                throw new InvalidOperationException("No read to advance: AdvanceTo must follow a read.");
            }

            var consumedAt = PositionOf(consumed);
            var examinedAt = PositionOf(examined);
            if (consumedAt < _consumed || consumedAt > _committed || examinedAt < consumedAt || examinedAt > _committed)
            {
                throw new InvalidOperationException("The position is outside the buffer that was read, or examined is before consumed.");
            }

            while (_head != _tail && _head!.RunningIndex + _head.End <= consumedAt)
            {
                var next = _head.NextSegment;
                _head.Dispose();
                _head = next;
            }

            _consumed = consumedAt;
            _examined = examinedAt;
            _holdingResult = false;
            if (_head is not null)
            {
                _headIndex = (int)(consumedAt - _head.RunningIndex);
                if (_consumed == _committed && !_receiving)
                {
                    // An idle connection holds no block.
                    ReleaseSegments();
                }
            }

            // Receiving resumes once the reader holds less than half the limit, or as soon as it has looked at all it holds
            // and waits for more while under the limit: the rest of a message larger than half the limit, left after the
            // messages before it were consumed, would otherwise never come (the limit is sized for one whole message).
            var held = _committed - _consumed;
            resume = _paused && (held < _settings.ResumeThreshold || (examinedAt == _committed && held < _settings.PauseThreshold));
            if (resume)
            {
                _paused = false;
            }
        }

        if (resume)
        {
            _transport.ResumeReceiving();
        }
    }

    public override void CancelPendingRead()
    {
        bool wake;
        lock (this)
        {
            wake = _readPending;
            if (wake)
            {
                PrepareDispatch(canceled: true);
            }
            else
            {
                _cancelNextRead = true;
            }
        }

        if (wake)
        {
            _settings.Complete(this);
        }
    }

    public override void Complete(Exception? exception = null)
    {
        lock (this)
        {
            if (_readerCompleted)
            {
                return;
            }

            _readerCompleted = true;
            _holdingResult = false;
            if (!_receiving)
            {
                ReleaseSegments();
            }
        }

        _transport.ReaderCompleted();
    }

    // ---- IValueTaskSource and dispatch ----------------------------------------------------------------------

    public ReadResult GetResult(short token)
    {
        try
        {
            var canceled = _source.GetResult(token);
            lock (this)
            {
                return BuildResult(canceled);
            }
        }
        finally
        {
            var registration = _cancellation;
            _cancellation = default;
            registration.Dispose();
        }
    }

    void IValueTaskSource.GetResult(short token) => _waitedCanceled = _source.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _source.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _source.OnCompleted(continuation, state, token, flags);

    void IThreadPoolWorkItem.Execute() => _source.Publish(this);

    private void BeginRead()
    {
        if (_readerCompleted)
        {
            throw new InvalidOperationException("Reading is not allowed after the reader was completed.");
        }

        if (_readPending || _holdingResult)
        {
            throw new InvalidOperationException(
                "Concurrent reads from a connection's input are not supported: one reader at a time, and each read advanced " +
                "(AdvanceTo) before the next. Read in one place, the handler, and hand messages to other tasks from there.");
        }
    }

    private bool TryReadLocked(out ReadResult result)
    {
        if (_cancelNextRead)
        {
            _cancelNextRead = false;
            result = BuildResult(canceled: true);
            _holdingResult = true;
            return true;
        }

        // A failure (the client's reset, say) is reported once the reader has seen every byte that arrived before it,
        // as a socket delivers what it holds before the reset: a message that arrived whole is not lost to a reset
        // that came after it.
        if (_writerCompleted && _writerError is { } error && _committed <= _examined)
        {
            throw error;
        }

        if (_committed > _examined || _writerCompleted)
        {
            result = BuildResult(canceled: false);
            _holdingResult = true;
            return true;
        }

        result = default;
        return false;
    }

    private ReadResult BuildResult(bool canceled)
    {
        var buffer = _head is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(_head, _headIndex, _tail!, _tail!.End);

        // Not completed while a failure waits behind these bytes: the next read reports it, not a clean end.
        return new ReadResult(buffer, canceled, _writerCompleted && _writerError is null);
    }

    private long PositionOf(SequencePosition position) =>
        position.GetObject() is BufferSegment segment ? segment.RunningIndex + position.GetInteger() : _consumed;

    private void CancelRead(CancellationToken token)
    {
        bool wake;
        lock (this)
        {
            wake = _readPending;
            if (wake)
            {
                PrepareDispatch(canceled: false, new OperationCanceledException(token));
            }
        }

        if (wake)
        {
            _settings.Complete(this);
        }
    }

    /// <summary>Under the lock: the pending read will complete, canceled or not (or with an error).</summary>
    private void PrepareDispatch(bool canceled, Exception? error = null)
    {
        _readPending = false;
        _endsOnCloseRequest = false;
        _holdingResult = error is null;
        _source.Stage(canceled, error);
    }

    private void AbandonLocked()
    {
        _receiving = false;
        if (_readerCompleted || (_committed == _consumed && !_holdingResult))
        {
            ReleaseSegments();
        }
    }

    private void ReleaseSegments()
    {
        BufferSegment.DisposeChain(_head);
        _head = _tail = null;
        _headIndex = 0;
    }
}
