using System.Buffers;
using System.Buffers.Binary;

namespace Sockeye.Framing;

/// <summary>
/// Messages preceded by their length: a 4-byte big-endian unsigned integer, then that many bytes of payload.
/// A length over the maximum message size ends the connection as soon as the header arrives.
/// </summary>
public sealed class LengthPrefixFramer : MessageFramer
{
    /// <summary>The length of the header: 4 bytes.</summary>
    public const int HeaderLength = sizeof(uint);

    /// <inheritdoc />
    public override bool TryParseMessage(
        in ReadOnlySequence<byte> input,
        long maxMessageSize,
        ref SequencePosition consumed,
        ref SequencePosition examined,
        out ReadOnlySequence<byte> message)
    {
        // Nothing here is searched, so there is nothing to resume: the header says how long to wait.
        examined = input.End;
        message = default;
        if (input.Length < HeaderLength)
        {
            return false;
        }

        long length = ReadHeader(input);
        if (length > maxMessageSize)
        {
            throw ProtocolException.MessageTooLarge(maxMessageSize);
        }

        if (input.Length - HeaderLength < length)
        {
            return false;
        }

        message = input.Slice(HeaderLength, length);
        consumed = message.End;
        examined = message.End;
        return true;
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The message is longer than a 4-byte length can say.</exception>
    public override void WriteMessage(ReadOnlySpan<byte> message, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        WriteHeader(message.Length, output, nameof(message));
        output.Write(message);
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The message is longer than a 4-byte length can say.</exception>
    public override void WriteMessage(in ReadOnlySequence<byte> message, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        WriteHeader(message.Length, output, nameof(message));
        output.Write(message);
    }

    private static uint ReadHeader(in ReadOnlySequence<byte> input)
    {
        if (input.FirstSpan.Length >= HeaderLength)
        {
            return BinaryPrimitives.ReadUInt32BigEndian(input.FirstSpan);
        }

        Span<byte> header = stackalloc byte[HeaderLength];
        input.Slice(0, HeaderLength).CopyTo(header);
        return BinaryPrimitives.ReadUInt32BigEndian(header);
    }

    private static void WriteHeader(long length, IBufferWriter<byte> output, string paramName)
    {
        if (length > uint.MaxValue)
        {
            throw new ArgumentException($"A message of {length} bytes is longer than a 4-byte length can say.", paramName);
        }

        BinaryPrimitives.WriteUInt32BigEndian(output.GetSpan(HeaderLength), (uint)length);
        output.Advance(HeaderLength);
    }
}
