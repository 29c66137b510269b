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

    // Enough to keep a busy server from allocating, small enough that a burst does not pin memory forever.
    private readonly BoundedBag<BufferSegment> _blocks = new(capacity: 4096);
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
    public BufferSegment RentSegment(long runningIndex)
    {
        Interlocked.Increment(ref _rented);
        var segment = _blocks.TryTake(out var block) ? block! : new BufferSegment(this, GC.AllocateUninitializedArray<byte>(BlockSize, pinned: true));
        segment.Reset(runningIndex);
        return segment;
    }

    protected override void Dispose(bool disposing)
    {
        // Blocks still rented are simply dropped when their owners return them.
        foreach (var _ in _blocks.Close())
        {
        }
    }

    /// <summary>Takes a block back; one that does not fit in the pool is left to the garbage collector.</summary>
    internal void Return(BufferSegment segment)
    {
        Interlocked.Decrement(ref _rented);
        _blocks.TryKeep(segment);
    }
}
