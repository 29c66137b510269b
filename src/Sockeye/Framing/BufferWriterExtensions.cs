using System.Buffers;
using System.IO.Pipelines;

namespace Sockeye.Framing;

/// <summary>Writing a sequence of segments, as the framers and handlers do; sending what was written before an error ends a connection.</summary>
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

    /// <summary>
    /// Sends what was written, if the connection still can, before an exception ends it: that exception, not the
    /// flush's (the connection ended meanwhile), is the news, so a failed flush is ignored.
    /// </summary>
    public static async ValueTask FlushBeforeFailingAsync(this PipeWriter output)
    {
        try
        {
            await output.FlushAsync().ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The caller's exception follows; a flush that fails adds nothing to it.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }
}
