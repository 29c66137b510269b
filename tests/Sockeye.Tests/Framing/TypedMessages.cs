using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using Sockeye.Framing;

namespace Sockeye.Tests.Framing;

/// <summary>A small typed protocol for the tests: <c>NAME VALUE\n</c>, a name and an integer, one per line.</summary>
internal readonly record struct Reading(string Name, int Value);

/// <summary>Reads <see cref="Reading"/>s: a line from the line framer, then its two fields; anything else is a protocol error.</summary>
internal sealed class ReadingReader : IMessageReader<Reading>
{
    private static readonly LineFramer s_lines = new();

    public long? MaxMessageSize { get; init; }

    public bool TryParseMessage(in ReadOnlySequence<byte> input, long maxMessageSize, ref SequencePosition consumed, ref SequencePosition examined, out Reading message)
    {
        if (!s_lines.TryParseMessage(input, maxMessageSize, ref consumed, ref examined, out var line))
        {
            message = default;
            return false;
        }

        var text = Encoding.ASCII.GetString(line.ToArray());
        var space = text.IndexOf(' ', StringComparison.Ordinal);
        if (space <= 0 || !int.TryParse(text.AsSpan(space + 1), out var value))
        {
            throw new ProtocolException($"Not a reading: {text}");
        }

        message = new Reading(text[..space], value);
        return true;
    }
}

/// <summary>Writes <see cref="Reading"/>s as <see cref="ReadingReader"/> reads them.</summary>
internal sealed class ReadingWriter : IMessageWriter<Reading>
{
    public void WriteMessage(Reading message, IBufferWriter<byte> output)
    {
        output.Write(Encoding.ASCII.GetBytes(message.Name));
        var span = output.GetSpan(12);
        span[0] = (byte)' ';
        Utf8Formatter.TryFormat(message.Value, span[1..], out var written);
        span[1 + written] = (byte)'\n';
        output.Advance(written + 2);
    }
}

/// <summary>A reader that never finds a message and never complains: the loop must bound what it buffers.</summary>
internal sealed class NeverReader : IMessageReader<int>
{
    public bool TryParseMessage(in ReadOnlySequence<byte> input, long maxMessageSize, ref SequencePosition consumed, ref SequencePosition examined, [MaybeNullWhen(false)] out int message)
    {
        examined = input.End;
        message = 0;
        return false;
    }
}

/// <summary>A reader whose every message is all the bytes there are, however many: the loop must keep the maximum.</summary>
internal sealed class GreedyReader : IMessageReader<long>
{
    public bool TryParseMessage(in ReadOnlySequence<byte> input, long maxMessageSize, ref SequencePosition consumed, ref SequencePosition examined, out long message)
    {
        message = input.Length;
        consumed = examined = input.End;
        return !input.IsEmpty;
    }
}
