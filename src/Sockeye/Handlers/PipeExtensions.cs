using System.Buffers;
using System.IO.Pipelines;

namespace Sockeye.Handlers;

/// <summary>Small pipe helpers the built-in handlers share.</summary>
internal static class PipeExtensions
{
    /// <summary>Copies <paramref name="data"/> into <paramref name="writer"/> without flushing.</summary>
    public static void Write(this PipeWriter writer, in ReadOnlySequence<byte> data)
    {
        foreach (var segment in data)
        {
            writer.Write(segment.Span);
        }
    }

    /// <summary>
    /// Reads the next result, unless the connection is idle and the server asks it to close, in which case it
    /// returns <see langword="null"/>: a handler between messages can stop at once, while one in the middle of
    /// a message finishes it.
    /// </summary>
    public static async ValueTask<ReadResult?> ReadUnlessClosingAsync(this PipeReader input, Connection connection, bool idle)
    {
        if (!idle)
        {
            return await input.ReadAsync().ConfigureAwait(false);
        }

        var closeRequested = connection.CloseRequested;
        try
        {
            return await input.ReadAsync(closeRequested).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (closeRequested.IsCancellationRequested)
        {
            return null;
        }
    }
}
