using System.Buffers;

namespace Sockeye.Framing;

/// <summary>
/// A message format on a byte stream: where one message ends and the next begins. A framer parses messages out
/// of buffered bytes and writes messages framed for the peer. It keeps no state of its own, so one instance can
/// serve every connection.
/// </summary>
/// <remarks>
/// A framer is the <see cref="IMessageReader{TMessage}"/> and <see cref="IMessageWriter{TMessage}"/> of byte
/// messages: each message is a slice of the receive buffer, without its framing. Handlers rarely call a framer
/// directly: <see cref="ConnectionMessageExtensions.ReadMessagesAsync{TMessage}(Connection, IMessageReader{TMessage}, CancellationToken)"/>
/// runs it over a connection's input, enforcing the maximum message size, and
/// <see cref="ConnectionMessageExtensions.WriteMessage(Connection, MessageFramer, ReadOnlySpan{byte})"/> frames
/// replies. Derive from it to teach Sockeye a byte format of your own; implement <see cref="IMessageReader{TMessage}"/>
/// for a protocol whose messages are more than bytes.
/// </remarks>
public abstract class MessageFramer : IMessageReader<ReadOnlySequence<byte>>, IMessageWriter<ReadOnlySequence<byte>>
{
    /// <summary>The maximum message size where neither the framer nor a server sets one: 1 MiB.</summary>
    public const long DefaultMaxMessageSize = 1024 * 1024;

    /// <summary>
    /// The largest message this framer accepts, in bytes, or <see langword="null"/> (the default) for the
    /// connection's <see cref="Connection.MaxMessageSize"/>. A peer that sends a larger message has its connection
    /// ended with <see cref="ConnectionEndReason.MessageTooLarge"/>.
    /// </summary>
    /// <remarks>
    /// A server buffers at most its own <see cref="SocketServerOptions.MaxMessageSize"/> plus 4 KiB for a connection
    /// while a message arrives, so a larger value here is capped by that; raise the server's option instead.
    /// </remarks>
    public long? MaxMessageSize
    {
        get;
        init
        {
            if (value <= 0)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "The maximum message size must be greater than zero.");
            }

            field = value;
        }
    }

    /// <summary>
    /// Whether a message ends only where the stream does, as with <see cref="WholeStreamFramer"/>. Then there is no
    /// message boundary to trickle towards, so <see cref="SocketServerOptions.MinDataRate"/>, the defence against
    /// clients that drip a message to hold a connection, does not apply while one arrives, and the idle timeout alone
    /// governs the connection, as for a raw byte stream: a person typing into <c>nc</c> is never cut off for typing
    /// slowly. <see langword="false"/> by default; a framer that wraps another reports the other's.
    /// </summary>
    public virtual bool MessageEndsWithStream => false;

    /// <summary>Finds the first whole frame in <paramref name="input"/>.</summary>
    /// <param name="input">The bytes buffered and not yet consumed, starting at a frame boundary.</param>
    /// <param name="maxMessageSize">The largest message to accept, in bytes.</param>
    /// <param name="consumed">
    /// On entry, the start of <paramref name="input"/>. When a message is found, set to the end of its frame.
    /// </param>
    /// <param name="examined">
    /// On entry, how far an earlier call on the same unconsumed bytes looked without finding the end of a frame
    /// (the start of <paramref name="input"/> at first): the search may resume there, and must, so that reading a
    /// long message costs time in proportion to its length. When no message is found, set to where the next call
    /// may resume, so that no byte is searched twice; when one is, set to <paramref name="consumed"/>.
    /// </param>
    /// <param name="message">The message found: a slice of <paramref name="input"/>, without its framing.</param>
    /// <returns><see langword="true"/> if a whole frame was found; <see langword="false"/> if more bytes are needed.</returns>
    /// <exception cref="ProtocolException">
    /// The frame is, or will be, larger than <paramref name="maxMessageSize"/> allows, or is malformed.
    /// </exception>
    public abstract bool TryParseMessage(
        in ReadOnlySequence<byte> input,
        long maxMessageSize,
        ref SequencePosition consumed,
        ref SequencePosition examined,
        out ReadOnlySequence<byte> message);

    /// <summary>
    /// Called when the stream has ended and <paramref name="input"/> holds bytes that
    /// <see cref="TryParseMessage"/> did not frame. Formats whose last message may end with the stream return it;
    /// for the others the bytes are a truncated frame. The default returns <see langword="false"/>.
    /// </summary>
    /// <param name="input">Every byte left, up to the end of the stream.</param>
    /// <param name="maxMessageSize">The largest message to accept, in bytes.</param>
    /// <param name="message">The last message: a slice of <paramref name="input"/>.</param>
    /// <returns><see langword="true"/> if <paramref name="input"/> is a last message; <see langword="false"/> if it is a truncated frame.</returns>
    /// <exception cref="ProtocolException">The last message is larger than <paramref name="maxMessageSize"/>.</exception>
    public virtual bool TryParseFinalMessage(in ReadOnlySequence<byte> input, long maxMessageSize, out ReadOnlySequence<byte> message)
    {
        message = default;
        return false;
    }

    /// <summary>Writes <paramref name="message"/> to <paramref name="output"/>, framed. Nothing is flushed.</summary>
    /// <param name="message">The message, without framing.</param>
    /// <param name="output">Where the frame goes, such as a connection's <c>Transport.Output</c>.</param>
    /// <exception cref="ArgumentException">The message cannot be framed in this format (a line that holds a line feed, say).</exception>
    public abstract void WriteMessage(ReadOnlySpan<byte> message, IBufferWriter<byte> output);

    /// <summary>Writes <paramref name="message"/> to <paramref name="output"/>, framed. Nothing is flushed.</summary>
    /// <param name="message">The message, without framing, possibly in several segments.</param>
    /// <param name="output">Where the frame goes, such as a connection's <c>Transport.Output</c>.</param>
    /// <remarks>
    /// The built-in framers write the segments as they are. This default copies a message of several segments
    /// into one pooled buffer and calls <see cref="WriteMessage(ReadOnlySpan{byte}, IBufferWriter{byte})"/>.
    /// </remarks>
    /// <exception cref="ArgumentException">The message cannot be framed in this format.</exception>
    public virtual void WriteMessage(in ReadOnlySequence<byte> message, IBufferWriter<byte> output)
    {
        if (message.IsSingleSegment)
        {
            WriteMessage(message.FirstSpan, output);
            return;
        }

        if (message.Length > Array.MaxLength)
        {
            throw new ArgumentException("The message is too large to write in one piece.", nameof(message));
        }

        var length = (int)message.Length;
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            message.CopyTo(buffer);
            WriteMessage(buffer.AsSpan(0, length), output);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <inheritdoc />
    void IMessageWriter<ReadOnlySequence<byte>>.WriteMessage(ReadOnlySequence<byte> message, IBufferWriter<byte> output) =>
        WriteMessage(in message, output);
}
