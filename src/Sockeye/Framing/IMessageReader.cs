using System.Buffers;
using System.Diagnostics.CodeAnalysis;

namespace Sockeye.Framing;

/// <summary>
/// A protocol's parser: finds one message at the start of buffered bytes and turns it into a
/// <typeparamref name="TMessage"/>. One that keeps no state between calls serves every connection; one that does (its
/// place in a message that arrives in pieces, so as not to parse it again from its start) serves one connection: give
/// <see cref="Messaging.MessageConnectionHandler{TMessage}"/> a function that makes one per connection.
/// </summary>
/// <typeparam name="TMessage">
/// What a message becomes: a slice of the input (as the framers return), a struct that points into it, or an object.
/// </typeparam>
/// <remarks>
/// <para>
/// Handlers do not call a reader directly: <see cref="ConnectionMessageExtensions.ReadMessagesAsync{TMessage}(Connection, IMessageReader{TMessage}, CancellationToken)"/>
/// runs it over a connection's input. That loop keeps the maximum message size for every reader (a reader that
/// neither finds a message nor throws while more than the maximum plus 4 KiB is buffered has the connection ended
/// with <see cref="ConnectionEndReason.MessageTooLarge"/>), turns a <see cref="ProtocolException"/> into the
/// connection's end reason, and flushes the replies to a batch of messages once no whole message is left.
/// </para>
/// <para>
/// A message that points into <c>input</c> is valid until the next message is asked for: the loop advances the
/// pipe past it then. The framers (<see cref="MessageFramer"/>) are readers of byte messages.
/// </para>
/// </remarks>
public interface IMessageReader<TMessage>
{
    /// <summary>
    /// The largest message this reader accepts, in bytes, or <see langword="null"/> (the default) for the
    /// connection's <see cref="Connection.MaxMessageSize"/>.
    /// </summary>
    long? MaxMessageSize => null;

    /// <summary>Parses the first whole message in <paramref name="input"/>.</summary>
    /// <param name="input">The bytes buffered and not yet consumed, starting at a message boundary.</param>
    /// <param name="maxMessageSize">The largest message to accept, in bytes: a reader throws
    /// <see cref="ProtocolException.MessageTooLarge(long)"/> as soon as it knows a message will be larger.</param>
    /// <param name="consumed">
    /// On entry, the start of <paramref name="input"/>. When a message is found, set to its end: the bytes before it
    /// belong to the message and are released once the message is done with.
    /// </param>
    /// <param name="examined">
    /// On entry, how far an earlier call on the same unconsumed bytes looked without finding a whole message (the
    /// start of <paramref name="input"/> at first). When no message is found, set to where the next call may resume
    /// (at most the end of <paramref name="input"/>): the loop waits for bytes beyond it before calling again. When a
    /// message is found, set to <paramref name="consumed"/> or beyond. It never lies before <paramref name="consumed"/>.
    /// </param>
    /// <param name="message">The message found.</param>
    /// <returns><see langword="true"/> if a whole message was found; <see langword="false"/> if more bytes are needed.</returns>
    /// <exception cref="ProtocolException">The message is, or will be, larger than <paramref name="maxMessageSize"/>, or is malformed.</exception>
    bool TryParseMessage(
        in ReadOnlySequence<byte> input,
        long maxMessageSize,
        ref SequencePosition consumed,
        ref SequencePosition examined,
        [MaybeNullWhen(false)] out TMessage message);

    /// <summary>
    /// Called when the stream has ended and <paramref name="input"/> holds bytes that
    /// <see cref="TryParseMessage"/> did not parse. Formats whose last message may end with the stream return it;
    /// for the others (the default) the bytes are a truncated message, and the loop ends with a <see cref="ProtocolException"/>.
    /// </summary>
    /// <param name="input">Every byte left, up to the end of the stream.</param>
    /// <param name="maxMessageSize">The largest message to accept, in bytes.</param>
    /// <param name="message">The last message.</param>
    /// <returns><see langword="true"/> if <paramref name="input"/> is a last message; <see langword="false"/> if it is truncated.</returns>
    /// <exception cref="ProtocolException">The last message is larger than <paramref name="maxMessageSize"/>, or is malformed.</exception>
    bool TryParseFinalMessage(in ReadOnlySequence<byte> input, long maxMessageSize, [MaybeNullWhen(false)] out TMessage message)
    {
        message = default;
        return false;
    }
}
