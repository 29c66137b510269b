using System.Buffers;
using Sockeye.Framing;

namespace Sockeye.Benchmarks;

/// <summary>Framed messages laid out as a pipe would hand them over: in one segment, or split across segments.</summary>
internal static class FrameData
{
    public const int Messages = 100;

    public static MessageFramer Framer(string name) => name switch
    {
        "line" => new LineFramer(),
        "delimiter" => new DelimiterFramer(),
        "length-prefix" => new LengthPrefixFramer(),
        "whole-stream" => new WholeStreamFramer(),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    /// <summary>
    /// <see cref="Messages"/> messages of <paramref name="size"/> bytes, framed; split, every frame is cut in two in
    /// its middle, so each one crosses a segment boundary, which is the slow path of every framer.
    /// </summary>
    public static ReadOnlySequence<byte> Create(MessageFramer framer, int size, bool split)
    {
        var message = new byte[size];
        Array.Fill(message, (byte)'x');
        var frames = new List<byte[]>();
        for (var i = 0; i < Messages; i++)
        {
            var frame = new ArrayBufferWriter<byte>();
            framer.WriteMessage(message, frame);
            frames.Add(frame.WrittenSpan.ToArray());
        }

        if (!split)
        {
            return new ReadOnlySequence<byte>([.. frames.SelectMany(f => f)]);
        }

        var pieces = frames.SelectMany(f => new[] { f[..(f.Length / 2)], f[(f.Length / 2)..] }).ToList();
        var first = new Segment(pieces[0], 0);
        var last = first;
        foreach (var piece in pieces.Skip(1))
        {
            last = last.Append(piece);
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] data, long runningIndex)
        {
            Memory = data;
            RunningIndex = runningIndex;
        }

        public Segment Append(byte[] data)
        {
            var next = new Segment(data, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
