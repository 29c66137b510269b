using System.Buffers;

namespace Sockeye.Transport;

/// <summary>
/// A block of memory that is also one segment of a <see cref="ReadOnlySequence{T}"/>: the connection pipes chain
/// them into the bytes a reader sees. While it is the last segment its <c>Memory</c> spans the whole block and the
/// sequence's end index bounds what is written; once a successor is linked it is sealed to what it holds.
/// </summary>
internal sealed class BufferSegment : ReadOnlySequenceSegment<byte>, IMemoryOwner<byte>
{
    private readonly PinnedBlockMemoryPool? _pool;

    public BufferSegment(PinnedBlockMemoryPool? pool, byte[] array)
    {
        _pool = pool;
        Array = array;
        Memory = array;
    }

    public byte[] Array { get; }

    /// <summary>How many bytes of the block hold data.</summary>
    public int End { get; set; }

    /// <summary>The free space after <see cref="End"/>.</summary>
    public Memory<byte> Available => Array.AsMemory(End);

    public int AvailableLength => Array.Length - End;

    public BufferSegment? NextSegment => (BufferSegment?)Next;

    /// <summary>Returns <paramref name="head"/> and every segment after it to their pool.</summary>
    public static void DisposeChain(BufferSegment? head)
    {
        while (head is not null)
        {
            var next = head.NextSegment;
            head.Dispose();
            head = next;
        }
    }

    Memory<byte> IMemoryOwner<byte>.Memory => Array;

    /// <summary>Links <paramref name="next"/> after this segment, sealing this one to what it holds.</summary>
    public void SetNext(BufferSegment next)
    {
        Memory = Array.AsMemory(0, End);
        next.RunningIndex = RunningIndex + End;
        Next = next;
    }

    public void Reset(long runningIndex)
    {
        Memory = Array;
        Next = null;
        End = 0;
        RunningIndex = runningIndex;
    }

    /// <summary>Returns the block to its pool (a block too large for the pool was never in one).</summary>
    public void Dispose()
    {
        Next = null;
        _pool?.Return(this);
    }
}
