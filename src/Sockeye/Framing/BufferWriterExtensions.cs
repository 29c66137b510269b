using System.Buffers;

namespace Sockeye.Framing;

/// <summary>Writing a sequence of segments, as the framers and handlers do.</summary>
internal static class BufferWriterExtensions
{
    /// <summary>Copies every segment of <paramref name="data"/> into <paramref name="output"/>, without flushing.</summary>
    public static void Write(this IBufferWriter<byte> output, in ReadOnlySequence<byte> data)
    {
        foreach (var segment in data)
        {
            output.Write(segment.Span);
        }
    }
}
