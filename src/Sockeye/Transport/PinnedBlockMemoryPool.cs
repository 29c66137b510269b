using System.Buffers;

namespace Sockeye.Transport;

/// <summary>
/// Fixed-size blocks on the pinned object heap, reused across connections. Pipes rent a block per segment,
/// so steady-state receiving and sending allocates nothing and the socket never needs to pin.
/// </summary>
internal sealed class PinnedBlockMemoryPool : MemoryPool<byte>
{
    public const int BlockSize = 4096;

    // Enough to keep a busy server from allocating, small enough that a burst does not pin memory forever.
    private readonly BoundedBag<Block> _blocks = new(capacity: 4096);
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

        Interlocked.Increment(ref _rented);
        return _blocks.TryTake(out var block) ? block! : new Block(this, GC.AllocateUninitializedArray<byte>(BlockSize, pinned: true));
    }

    protected override void Dispose(bool disposing)
    {
        // Blocks still rented are simply dropped when their owners return them.
        foreach (var _ in _blocks.Close())
        {
        }
    }

    private sealed class Block(PinnedBlockMemoryPool pool, byte[] array) : IMemoryOwner<byte>
    {
        public Memory<byte> Memory { get; } = array;

        // A block that does not fit back in the pool is left to the garbage collector.
        public void Dispose()
        {
            Interlocked.Decrement(ref pool._rented);
            pool._blocks.TryKeep(this);
        }
    }
}
