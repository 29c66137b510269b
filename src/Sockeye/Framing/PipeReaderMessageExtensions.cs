using System.Buffers;
using System.IO.Pipelines;

namespace Sockeye.Framing;

/// <summary>Messages on any pipe: the same framing a connection has, for a file, a stream or a test.</summary>
public static class PipeReaderMessageExtensions
{
    /// <summary>
    /// Reads messages framed by <paramref name="framer"/> from any pipe, until its writer completes between two
    /// messages: a file, a stream wrapped by <see cref="PipeReader.Create(Stream, StreamPipeReaderOptions?)"/>, a test.
    /// </summary>
    /// <param name="input">The bytes to read.</param>
    /// <param name="framer">The message format.</param>
    /// <param name="cancellationToken">Cancels the wait for the next message.</param>
    /// <returns>The messages, each valid until the next is asked for.</returns>
    /// <remarks>
    /// The largest message accepted is the framer's <see cref="MessageFramer.MaxMessageSize"/>, or else
    /// <see cref="MessageFramer.DefaultMaxMessageSize"/>; anything the input breaks the format with throws a
    /// <see cref="ProtocolException"/>.
    /// </remarks>
    public static IAsyncEnumerable<ReadOnlySequence<byte>> ReadMessagesAsync(this PipeReader input, MessageFramer framer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(framer);
        var maxMessageSize = framer.MaxMessageSize ?? MessageFramer.DefaultMaxMessageSize;
        return new MessageStream(token => new MessageReader(input, framer, maxMessageSize, cancellationToken: token), cancellationToken);
    }
}
