using System.Buffers;

namespace Sockeye.Framing;

/// <summary>
/// Lines of text: each message ends with a line feed (<c>\n</c>), and a carriage return before it (<c>\r\n</c>) is
/// accepted too. The message excludes the line ending. Messages are written with <c>\n</c>.
/// </summary>
public sealed class LineFramer : MessageFramer
{
    private const byte LineFeed = (byte)'\n';
    private const byte CarriageReturn = (byte)'\r';

    /// <inheritdoc />
    public override bool TryParseMessage(
        in ReadOnlySequence<byte> input,
        long maxMessageSize,
        ref SequencePosition consumed,
        ref SequencePosition examined,
        out ReadOnlySequence<byte> message)
    {
        // A line of the maximum length may end with two bytes, \r\n: that is the longest frame to look through.
        var frameLimit = DelimiterSearch.AddSaturating(maxMessageSize, 2);
        if (!DelimiterSearch.TryFind(input, [LineFeed], frameLimit, maxMessageSize, ref examined, out var lineFeed, out var frameEnd))
        {
            message = default;
            return false;
        }

        message = input.Slice(input.Start, lineFeed);
        if (!message.IsEmpty && DelimiterSearch.LastByte(message) == CarriageReturn)
        {
            message = message.Slice(0, message.Length - 1);
        }

        if (message.Length > maxMessageSize)
        {
            throw ProtocolException.MessageTooLarge(maxMessageSize);
        }

        consumed = frameEnd;
        examined = frameEnd;
        return true;
    }

    /// <inheritdoc />
    /// <remarks>
    /// A message that ends with <c>\r</c> is written with <c>\r\n</c>, so that it reads back whole.
    /// </remarks>
    /// <exception cref="ArgumentException">The message holds a line feed.</exception>
    public override void WriteMessage(ReadOnlySpan<byte> message, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (message.Contains(LineFeed))
        {
            throw Unframeable(nameof(message));
        }

        output.Write(message);
        WriteLineEnd(!message.IsEmpty && message[^1] == CarriageReturn, output);
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The message holds a line feed.</exception>
    public override void WriteMessage(in ReadOnlySequence<byte> message, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (message.PositionOf(LineFeed) is not null)
        {
            throw Unframeable(nameof(message));
        }

        output.Write(message);

        WriteLineEnd(!message.IsEmpty && DelimiterSearch.LastByte(message) == CarriageReturn, output);
    }

    // Reading strips one \r before the \n, so a message that ends with its own \r needs \r\n to keep it.
    private static void WriteLineEnd(bool endsWithCarriageReturn, IBufferWriter<byte> output) =>
        output.Write(endsWithCarriageReturn ? "\r\n"u8 : "\n"u8);

    private static ArgumentException Unframeable(string paramName) => new("A line cannot hold a line feed.", paramName);
}
