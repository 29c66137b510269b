using System.Buffers;

namespace Sockeye.Framing;

/// <summary>
/// No framing: everything the peer sends until it ends its side of the stream is one message. This is how the
/// seed's server reads. Messages are written as they are, so the peer sees no boundary between two of them.
/// </summary>
/// <remarks>
/// The minimum data rate (<see cref="SocketServerOptions.MinDataRate"/>) applies to framed messages only: a message
/// that ends with the stream may take as long as the client likes, and the idle timeout governs the connection.
/// </remarks>
public sealed class WholeStreamFramer : MessageFramer
{
    /// <inheritdoc />
    public override bool MessageEndsWithStream => true;

    /// <inheritdoc />
    public override bool TryParseMessage(
        in ReadOnlySequence<byte> input,
        long maxMessageSize,
        ref SequencePosition consumed,
        ref SequencePosition examined,
        out ReadOnlySequence<byte> message)
    {
        if (input.Length > maxMessageSize)
        {
            throw ProtocolException.MessageTooLarge(maxMessageSize);
        }

        examined = input.End;
        message = default;
        return false;
    }

    /// <inheritdoc />
    public override bool TryParseFinalMessage(in ReadOnlySequence<byte> input, long maxMessageSize, out ReadOnlySequence<byte> message)
    {
        if (input.Length > maxMessageSize)
        {
            throw ProtocolException.MessageTooLarge(maxMessageSize);
        }

        message = input;
        return true;
    }

    /// <inheritdoc />
    public override void WriteMessage(ReadOnlySpan<byte> message, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        output.Write(message);
    }

    /// <inheritdoc />
    public override void WriteMessage(in ReadOnlySequence<byte> message, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        output.Write(message);
    }
}
