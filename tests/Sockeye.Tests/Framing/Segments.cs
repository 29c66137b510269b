using System.Buffers;
using System.Text;

namespace Sockeye.Tests.Framing;

/// <summary>Sequences of several segments, as a pipe hands out a message that crosses its blocks.</summary>
internal static class Segments
{
    public static ReadOnlySequence<byte> Of(params string[] parts) => Of([.. parts.Select(Encoding.UTF8.GetBytes)]);

    public static ReadOnlySequence<byte> Of(params byte[][] parts)
    {
        Segment? first = null;
        Segment? last = null;
        foreach (var part in parts)
        {
            var segment = new Segment(part, last is null ? 0 : last.RunningIndex + last.Memory.Length);
            if (last is null)
            {
                first = segment;
            }
            else
            {
                last.Next = segment;
            }

            last = segment;
        }

        return first is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] data, long runningIndex)
        {
            Memory = data;
            RunningIndex = runningIndex;
        }

        public new Segment? Next
        {
            get => (Segment?)base.Next;
            set => base.Next = value;
        }
    }
}
