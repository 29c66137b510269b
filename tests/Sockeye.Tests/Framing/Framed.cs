using System.Buffers;
using Sockeye.Framing;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Framing;

/// <summary>Runs framers over scripted input and frames messages, for the framing tests.</summary>
internal static class Framed
{
    /// <summary>The framers under test, by name, each with the maximum the tests use.</summary>
    public static MessageFramer Create(string name) => name switch
    {
        "line" => new LineFramer(),
        "delimiter" => new DelimiterFramer(),
        "delimiter-overlapping" => new DelimiterFramer("abab"),
        "length-prefix" => new LengthPrefixFramer(),
        "whole-stream" => new WholeStreamFramer(),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    /// <summary>Every framer whose messages end on their own (all but whole-stream).</summary>
    public static TheoryData<string> Delimited => ["line", "delimiter", "delimiter-overlapping", "length-prefix"];

    /// <summary>Every framer.</summary>
    public static TheoryData<string> All => ["line", "delimiter", "delimiter-overlapping", "length-prefix", "whole-stream"];

    /// <summary>The bytes <paramref name="framer"/> writes for <paramref name="messages"/>.</summary>
    public static byte[] Frame(MessageFramer framer, params byte[][] messages)
    {
        var output = new ArrayBufferWriter<byte>();
        foreach (var message in messages)
        {
            framer.WriteMessage(message, output);
        }

        return output.WrittenSpan.ToArray();
    }

    /// <summary>Reads every message from <paramref name="chunks"/>, one chunk per read, until the end or a protocol error.</summary>
    public static async Task<Outcome> ReadAsync(MessageFramer framer, IReadOnlyList<byte[]> chunks, long maxMessageSize = 1024)
    {
        var reader = new MessageReader<ReadOnlySequence<byte>>(new ScriptedPipeReader(chunks), framer, maxMessageSize);
        var messages = new List<byte[]>();
        try
        {
            while (await reader.MoveNextAsync())
            {
                messages.Add(reader.Current.ToArray());
            }

            return new Outcome(messages, null);
        }
        catch (ProtocolException error)
        {
            return new Outcome(messages, error);
        }
    }

    /// <summary>Reads <paramref name="data"/> delivered in one piece.</summary>
    public static Task<Outcome> ReadAsync(MessageFramer framer, byte[] data, long maxMessageSize = 1024) =>
        ReadAsync(framer, [data], maxMessageSize);

    /// <summary><paramref name="data"/> in two chunks, split at every position, ends included.</summary>
    public static IEnumerable<IReadOnlyList<byte[]>> EverySplit(byte[] data) =>
        Enumerable.Range(0, data.Length + 1).Select(position => (IReadOnlyList<byte[]>)[data[..position], data[position..]]);

    /// <summary><paramref name="data"/> one byte per chunk.</summary>
    public static IReadOnlyList<byte[]> ByteByByte(byte[] data) => [.. data.Select(b => new[] { b })];

    /// <summary>
    /// One call of <see cref="MessageFramer.TryParseMessage"/> on <paramref name="input"/> in one segment, resuming
    /// <paramref name="resumeAt"/> bytes in; positions come back as offsets.
    /// </summary>
    public static Parsed Parse(MessageFramer framer, byte[] input, long maxMessageSize = 1024, int resumeAt = 0)
    {
        var buffer = new ReadOnlySequence<byte>(input);
        var consumed = buffer.Start;
        var examined = buffer.GetPosition(resumeAt);
        var found = framer.TryParseMessage(buffer, maxMessageSize, ref consumed, ref examined, out var message);
        return new Parsed(
            found,
            buffer.Slice(buffer.Start, consumed).Length,
            buffer.Slice(buffer.Start, examined).Length,
            found ? System.Text.Encoding.UTF8.GetString(message.ToArray()) : null);
    }

    public static byte[] Repeat(byte value, int count) => Enumerable.Repeat(value, count).ToArray();

    /// <summary>What one call of a framer found, with its positions as offsets from the start of the input.</summary>
    internal sealed record Parsed(bool Found, long Consumed, long Examined, string? Message);

    /// <summary>What a read of a whole input gave: the messages, and the protocol error that ended it, if any.</summary>
    internal sealed record Outcome(List<byte[]> Messages, ProtocolException? Error)
    {
        public IReadOnlyList<string> Texts => [.. Messages.Select(m => System.Text.Encoding.UTF8.GetString(m))];
    }
}
