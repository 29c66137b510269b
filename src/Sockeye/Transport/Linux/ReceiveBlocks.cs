namespace Sockeye.Transport.Linux;

/// <summary>
/// Where an epoll loop receives: a small block and sixteen whole ones from the pool, read into with one scattered
/// system call after whatever room is left in the connection's last block. The blocks that received bytes become the
/// connection's input as they are, so no byte is copied on its way in; the loop takes new ones in their place. A
/// small arrival into an empty input lands in the small block, so a connection holding a few bytes holds 512 B, not 4 KiB.
/// </summary>
/// <remarks>Used by the loop's thread only. The blocks it keeps are not counted as rented until a connection adopts them.</remarks>
internal sealed class ReceiveBlocks(PinnedBlockMemoryPool pool) : IDisposable
{
    private const int WholeBlocks = 16;

    // [0] is the small block, [1..] the whole ones, in the order they are filled.
    private readonly BufferSegment?[] _blocks = new BufferSegment?[Count];

    /// <summary>How many blocks a read may fill: the small one and the whole ones.</summary>
    public const int Count = WholeBlocks + 1;

    /// <summary>What one read can take, besides room left in the connection's last block.</summary>
    public const int Capacity = PinnedBlockMemoryPool.SmallBlockSize + (WholeBlocks * PinnedBlockMemoryPool.BlockSize);

    /// <summary>The block <paramref name="index"/> (0 the small one), taken from the pool if it was handed on.</summary>
    public BufferSegment Block(int index) => _blocks[index] ??= pool.RentSpare(small: index == 0);

    /// <summary>Hands on <paramref name="count"/> blocks from <paramref name="first"/>: the caller gave them to a connection's input.</summary>
    public void HandedOn(int first, int count)
    {
        Array.Clear(_blocks, first, count);
        pool.Adopted(count);
    }

    public void Dispose()
    {
        for (var i = 0; i < _blocks.Length; i++)
        {
            if (_blocks[i] is { } block)
            {
                _blocks[i] = null;
                pool.ReturnSpare(block);
            }
        }
    }
}
