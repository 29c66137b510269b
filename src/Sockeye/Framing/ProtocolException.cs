namespace Sockeye.Framing;

/// <summary>
/// The peer broke the message protocol: it sent a message larger than the maximum, a malformed frame or message, or
/// ended the stream in the middle of a frame. <see cref="EndReason"/> says which, as the reason the connection ends with.
/// </summary>
/// <remarks>
/// It is the only exception a reader throws for anything the peer sends, so a handler that catches it has
/// caught every way a client can misuse the protocol. It derives from <see cref="IOException"/>, as the other
/// errors of a failing stream do. A handler throws it too, to end a connection whose client sent something it
/// cannot accept: the connection ends with <see cref="EndReason"/>, logged as the client's doing rather than as a
/// server error, and closes cleanly (what the handler wrote is still sent) rather than with a reset.
/// </remarks>
public sealed class ProtocolException : IOException
{
    /// <summary>Creates the exception with a default message, for a malformed frame.</summary>
    public ProtocolException()
        : this("The peer broke the message protocol.")
    {
    }

    /// <summary>Creates the exception with a message, for a malformed frame.</summary>
    /// <param name="message">What the peer did wrong.</param>
    public ProtocolException(string message)
        : this(message, ConnectionEndReason.ProtocolError)
    {
    }

    /// <summary>Creates the exception with a message and the error behind it, for a malformed frame.</summary>
    /// <param name="message">What the peer did wrong.</param>
    /// <param name="innerException">The error behind it.</param>
    public ProtocolException(string message, Exception innerException)
        : base(message, innerException)
    {
        EndReason = ConnectionEndReason.ProtocolError;
    }

    /// <summary>Creates the exception with a message and the reason the connection ends with.</summary>
    /// <param name="message">What the peer did wrong.</param>
    /// <param name="endReason">
    /// <see cref="ConnectionEndReason.MessageTooLarge"/> or <see cref="ConnectionEndReason.ProtocolError"/>.
    /// </param>
    public ProtocolException(string message, ConnectionEndReason endReason)
        : base(message)
    {
        if (endReason is not (ConnectionEndReason.MessageTooLarge or ConnectionEndReason.ProtocolError))
        {
            throw new ArgumentOutOfRangeException(nameof(endReason), endReason, "A protocol error ends a connection as MessageTooLarge or ProtocolError.");
        }

        EndReason = endReason;
    }

    /// <summary>
    /// How the connection ends because of it: <see cref="ConnectionEndReason.MessageTooLarge"/> for a message over
    /// the maximum size, <see cref="ConnectionEndReason.ProtocolError"/> for anything else.
    /// </summary>
    public ConnectionEndReason EndReason { get; }

    /// <summary>
    /// The exception for a message, or the frame that will hold it, larger than <paramref name="maxMessageSize"/>:
    /// what a reader throws, with <see cref="EndReason"/> <see cref="ConnectionEndReason.MessageTooLarge"/>.
    /// </summary>
    /// <param name="maxMessageSize">The maximum the message is over, in bytes.</param>
    /// <returns>The exception, to throw.</returns>
    public static ProtocolException MessageTooLarge(long maxMessageSize) =>
        new($"A message is larger than the maximum of {maxMessageSize} bytes.", ConnectionEndReason.MessageTooLarge);

    /// <summary>
    /// The reader consumed the whole frame of the malformed message it reports, so the stream is still in step: the
    /// next message starts where the bad one ended. Only <see cref="InvalidMessage"/> makes such an exception.
    /// </summary>
    /// <remarks>
    /// A connection can then go on: <c>MessageConnectionHandler&lt;TMessage&gt;.OnInvalidMessage</c> may reply with an
    /// error and read the next message. Without it, and in a loop over <c>ReadMessagesAsync</c>, the exception ends the
    /// connection with <see cref="ConnectionEndReason.ProtocolError"/> all the same.
    /// </remarks>
    public bool MessageSkipped { get; private init; }

    /// <summary>
    /// The exception for a message that is framed whole but does not parse (its payload is not what the protocol
    /// expects), with <see cref="MessageSkipped"/> set: what a reader throws after it has set <c>consumed</c> and
    /// <c>examined</c> past the whole bad frame, so that the next message can still be read.
    /// </summary>
    /// <param name="message">What is wrong with the message.</param>
    /// <param name="innerException">The error behind it, such as the deserializer's, if any.</param>
    /// <returns>The exception, to throw once <c>consumed</c> is past the bad frame.</returns>
    /// <remarks>
    /// A reader that throws it without moving <c>consumed</c> past the start of the buffer is taken at its position,
    /// not its word: the stream is out of step, and the connection ends with
    /// <see cref="ConnectionEndReason.ProtocolError"/>. A message over the maximum size is never skipped: use
    /// <see cref="MessageTooLarge"/>.
    /// </remarks>
    public static ProtocolException InvalidMessage(string message, Exception? innerException = null) =>
        innerException is null
            ? new(message) { MessageSkipped = true }
            : new(message, innerException) { MessageSkipped = true };

    /// <summary>The stream ended with <paramref name="length"/> bytes that do not make a whole frame.</summary>
    internal static ProtocolException Truncated(long length) =>
        new($"The stream ended in the middle of a frame, {length} bytes into it.", ConnectionEndReason.ProtocolError);
}
