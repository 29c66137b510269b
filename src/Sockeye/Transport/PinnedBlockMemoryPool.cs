using System.Buffers;

namespace Sockeye.Transport;

/// <summary>
/// Fixed-size blocks on the pinned object heap, reused across connections. Pipes rent a block per segment,
/// so steady-state receiving and sending allocates nothing and the socket never needs to pin. A block is also
/// a sequence segment, so Sockeye's own connection pipes chain blocks without a wrapper object per segment.
/// </summary>
internal sealed class PinnedBlockMemoryPool : MemoryPool<byte>
{
    public const int BlockSize = 4096;

    /// <summary>
    /// The size of a small block: what a connection that exchanges small messages holds while one is in flight,
    /// instead of a whole block. Thousands of connections each briefly holding a message add up.
    /// </summary>
    public const int SmallBlockSize = 512;

    // The blocks an event loop's thread keeps for itself, of each size. See ThreadBlocks. Enough whole blocks for a
    // scattered receive (16) and the blocks of the arrival before it, which the loop's inline handlers free.
    internal const int ThreadSmallBlocks = 8;
    internal const int ThreadWholeBlocks = 32;

    // Set on an event loop's thread: see ThreadBlocks.
    [ThreadStatic]
    private static ThreadBlocks? t_blocks;

    // Enough to keep a busy server from allocating, small enough that a burst does not pin memory forever.
    private readonly BoundedBag<BufferSegment> _blocks = new(capacity: 4096);
    private readonly BoundedBag<BufferSegment> _smallBlocks = new(capacity: 4096);
    private long _rented;

    public override int MaxBufferSize => BlockSize;

    /// <summary>Blocks rented and not yet returned: the receive and send memory connections hold right now.</summary>
    public long RentedBlocks => Volatile.Read(ref _rented);

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        if (minBufferSize > BlockSize)
        {
            throw new ArgumentOutOfRangeException(nameof(minBufferSize), minBufferSize, $"Blocks are {BlockSize} bytes.");
        }

        return RentSegment(runningIndex: 0);
    }

    /// <summary>A block ready to be the last segment of a sequence that has <paramref name="runningIndex"/> bytes before it.</summary>
    /// <param name="runningIndex">The bytes before it in its sequence.</param>
    /// <param name="small">A small block (<see cref="SmallBlockSize"/>) rather than a whole one.</param>
    public BufferSegment RentSegment(long runningIndex, bool small = false)
    {
        Interlocked.Increment(ref _rented);
        var segment = Take(small);
        segment.Reset(runningIndex);
        return segment;
    }

    /// <summary>Whole blocks for a scattered receive, counted as rented with one atomic operation; their positions are set later.</summary>
    public void RentSegments(Span<BufferSegment?> into)
    {
        Interlocked.Add(ref _rented, into.Length);
        for (var i = 0; i < into.Length; i++)
        {
            var segment = Take(small: false);
            segment.Reset(0);
            into[i] = segment;
        }
    }

    /// <summary>Takes back whole blocks that <see cref="RentSegments"/> gave and a receive did not fill.</summary>
    public void ReturnSegments(ReadOnlySpan<BufferSegment?> segments)
    {
        Interlocked.Add(ref _rented, -segments.Length);
        foreach (var segment in segments)
        {
            // Never linked: Reset left them with no successor.
            Keep(segment!);
        }
    }

    /// <summary>
    /// Lets the calling thread, an event loop's, keep a few of this pool's blocks for itself: see <see cref="ThreadBlocks"/>.
    /// </summary>
    public void KeepBlocksOnThisThread() => t_blocks = new ThreadBlocks(this);

    protected override void Dispose(bool disposing)
    {
        // Blocks still rented are simply dropped when their owners return them.
        foreach (var _ in _blocks.Close())
        {
        }

        foreach (var _ in _smallBlocks.Close())
        {
        }
    }

    /// <summary>Takes a block back; one that does not fit in the pool is left to the garbage collector.</summary>
    internal void Return(BufferSegment segment)
    {
        Interlocked.Decrement(ref _rented);
        Keep(segment);
    }

    private BufferSegment Take(bool small)
    {
        if (t_blocks is not { } kept || kept.Pool != this || kept.TryTake(small) is not { } segment)
        {
            segment = (small ? _smallBlocks : _blocks).TryTake(out var block)
                ? block!
                : new BufferSegment(this, GC.AllocateUninitializedArray<byte>(small ? SmallBlockSize : BlockSize, pinned: true));
        }

        return segment;
    }

    private void Keep(BufferSegment segment)
    {
        var small = segment.Array.Length == SmallBlockSize;
        if (t_blocks is not { } kept || kept.Pool != this || !kept.TryKeep(segment, small))
        {
            (small ? _smallBlocks : _blocks).TryKeep(segment);
        }
    }

    /// <summary>
    /// An event loop's own blocks, last in first out. A loop that receives a message, has it handled inline and frees
    /// its block, then rents one for the next arrival, gets the same block back, still in the cache, without the
    /// shared queues' atomic operations; through them it would get the least recently used block instead. Each loop
    /// keeps at most <see cref="ThreadSmallBlocks"/> small and <see cref="ThreadWholeBlocks"/> whole blocks; the rest go
    /// to the shared queues.
    /// </summary>
    private sealed class ThreadBlocks(PinnedBlockMemoryPool pool)
    {
        private readonly BufferSegment?[] _small = new BufferSegment?[ThreadSmallBlocks];
        private readonly BufferSegment?[] _large = new BufferSegment?[ThreadWholeBlocks];
        private int _smallCount;
        private int _largeCount;

        public PinnedBlockMemoryPool Pool { get; } = pool;

        public BufferSegment? TryTake(bool small)
        {
            ref var count = ref small ? ref _smallCount : ref _largeCount;
            if (count == 0)
            {
                return null;
            }

            var blocks = small ? _small : _large;
            var segment = blocks[--count];
            blocks[count] = null;
            return segment;
        }

        public bool TryKeep(BufferSegment segment, bool small)
        {
            ref var count = ref small ? ref _smallCount : ref _largeCount;
            var blocks = small ? _small : _large;
            if (count == blocks.Length)
            {
                return false;
            }

            blocks[count++] = segment;
            return true;
        }
    }
}
