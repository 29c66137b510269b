using System.IO.Pipelines;

namespace Sockeye.Framing;

/// <summary>Messages on any pipe: the same reading a connection has, for a file, a stream or a test.</summary>
public static class PipeReaderMessageExtensions
{
    /// <summary>
    /// Reads messages parsed by <paramref name="reader"/> from any pipe, until its writer completes between two
    /// messages: a file, a stream wrapped by <see cref="PipeReader.Create(Stream, StreamPipeReaderOptions?)"/>, a test.
    /// </summary>
    /// <typeparam name="TMessage">What the reader makes of a message: with a <see cref="MessageFramer"/>, its bytes.</typeparam>
    /// <param name="input">The bytes to read.</param>
    /// <param name="reader">The protocol's reader, such as a framer.</param>
    /// <param name="cancellationToken">Cancels the wait for the next message.</param>
    /// <returns>The messages, each valid until the next is asked for.</returns>
    /// <remarks>
    /// The largest message accepted is the reader's <see cref="IMessageReader{TMessage}.MaxMessageSize"/>, or else
    /// <see cref="MessageFramer.DefaultMaxMessageSize"/>; anything the input breaks the format with throws a
    /// <see cref="ProtocolException"/>.
    /// </remarks>
    public static IAsyncEnumerable<TMessage> ReadMessagesAsync<TMessage>(this PipeReader input, IMessageReader<TMessage> reader, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(reader);
        var maxMessageSize = reader.MaxMessageSize ?? MessageFramer.DefaultMaxMessageSize;
        return new MessageStream<TMessage>(input, reader, maxMessageSize, cancellationToken);
    }
}
