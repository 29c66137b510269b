using System.Buffers;

namespace Sockeye.Fuzz;

/// <summary>Bytes as a sequence of many segments, as a pipe holds what arrived in several reads.</summary>
public static class SegmentedSequence
{
    public static ReadOnlySequence<byte> Of(byte[] bytes, int segmentSize)
    {
        if (bytes.Length <= segmentSize)
        {
            return new ReadOnlySequence<byte>(bytes);
        }

        var first = new Segment(bytes.AsMemory(0, segmentSize), 0);
        var last = first;
        for (var start = segmentSize; start < bytes.Length; start += segmentSize)
        {
            last = last.Append(bytes.AsMemory(start, Math.Min(segmentSize, bytes.Length - start)));
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>The bytes with one segment boundary at <paramref name="cut"/>.</summary>
    public static ReadOnlySequence<byte> SplitAt(byte[] bytes, int cut)
    {
        if (cut <= 0 || cut >= bytes.Length)
        {
            return new ReadOnlySequence<byte>(bytes);
        }

        var first = new Segment(bytes.AsMemory(0, cut), 0);
        var last = first.Append(bytes.AsMemory(cut));
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
