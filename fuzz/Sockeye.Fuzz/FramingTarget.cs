using System.Buffers;
using Sockeye.Framing;

namespace Sockeye.Fuzz;

/// <summary>
/// Fuzz cases for the framers. The first byte picks the maximum message size (and, for <see cref="Run"/>, the framer),
/// the second how many bytes each read returns, the rest is what a peer sends. Only <see cref="ProtocolException"/>
/// may escape the framing code; anything else, or a broken promise, throws <see cref="InvalidOperationException"/>:
/// a finding. The promises: no message over the maximum; no delimited message holding its delimiter; a framer's
/// consumed position never passes its examined one, neither leaves the buffer, and a search resumed where the last
/// one stopped finds what a reader over a pipe finds; what a framer writes reads back as written.
/// </summary>
/// <remarks>
/// Run by <c>Program</c> under SharpFuzz (one target per framer, see <see cref="FuzzTargets"/>), and by seeded,
/// bounded tests in CI, which link this file. Everything completes synchronously: the input is in memory.
/// </remarks>
public static class FramingTarget
{
    /// <summary>Every framer: the first byte's low 3 bits pick one.</summary>
    public static void Run(ReadOnlySpan<byte> data)
    {
        if (data.Length >= 2)
        {
            RunFramer(data[0] & 7, data);
        }
    }

    public static void Line(ReadOnlySpan<byte> data) => RunFramer(0, data);

    /// <summary>The delimiter framer with <c>&lt;EOF&gt;</c>, <c>aa</c>, <c>abab</c> or a zero byte, by the first byte's low 2 bits.</summary>
    public static void Delimiter(ReadOnlySpan<byte> data) => RunFramer(data.IsEmpty ? 1 : 1 + (data[0] & 3), data);

    public static void LengthPrefix(ReadOnlySpan<byte> data) => RunFramer(5, data);

    public static void WholeStream(ReadOnlySpan<byte> data) => RunFramer(6, data);

    private static void RunFramer(int kind, ReadOnlySpan<byte> data)
    {
        if (data.Length < 2)
        {
            return;
        }

        var maxMessageSize = 1 + ((data[0] >> 3) * 8);
        var framer = CreateFramer(kind, maxMessageSize);
        var readSize = 1 + (data[1] % 64);
        var payload = data[2..].ToArray();

        ReadArbitraryBytes(framer, payload, readSize, maxMessageSize);
        ReadBackWhatWasWritten(framer, payload, readSize);
    }

    private static MessageFramer CreateFramer(int kind, long maxMessageSize) => kind switch
    {
        0 => new LineFramer { MaxMessageSize = maxMessageSize },
        1 => new DelimiterFramer { MaxMessageSize = maxMessageSize },
        2 => new DelimiterFramer("aa") { MaxMessageSize = maxMessageSize },
        3 => new DelimiterFramer("abab") { MaxMessageSize = maxMessageSize },
        4 => new DelimiterFramer([0]) { MaxMessageSize = maxMessageSize },
        5 => new LengthPrefixFramer { MaxMessageSize = maxMessageSize },
        _ => new WholeStreamFramer { MaxMessageSize = maxMessageSize },
    };

    private static void ReadArbitraryBytes(MessageFramer framer, byte[] payload, int readSize, long maxMessageSize)
    {
        var (read, _) = MessageReaderChecks.ReadBothWays(framer, payload, readSize, maxMessageSize, (message, frameLength) =>
        {
            if (message.Length > maxMessageSize || message.Length > frameLength)
            {
                throw new InvalidOperationException($"{framer.GetType().Name} returned a message of {message.Length} bytes from a frame of {frameLength} (maximum {maxMessageSize}).");
            }
        }, Copy, (a, b) => a.AsSpan().SequenceEqual(b));
        foreach (var message in read)
        {
            if (message.Length > maxMessageSize)
            {
                throw new InvalidOperationException($"{framer.GetType().Name} returned a message of {message.Length} bytes over the maximum of {maxMessageSize}.");
            }

            if (framer is DelimiterFramer delimited && message.AsSpan().IndexOf(delimited.Delimiter.Span) >= 0)
            {
                throw new InvalidOperationException("A delimited message holds its delimiter.");
            }
        }
    }

    private static byte[] Copy(ReadOnlySequence<byte> message) => message.ToArray();

    private static void ReadBackWhatWasWritten(MessageFramer framer, byte[] payload, int readSize)
    {
        if (payload.Length == 0)
        {
            return;
        }

        var written = new ArrayBufferWriter<byte>();
        try
        {
            framer.WriteMessage(payload, written);
            framer.WriteMessage(SegmentedSequence.Of(payload, readSize), written);
        }
        catch (ArgumentException)
        {
            // Not a message this format can carry (a line that holds a line feed, say).
            return;
        }

        List<byte[]> messages;
        try
        {
            messages = MessageReaderChecks.ReadAll(framer, written.WrittenSpan.ToArray(), readSize, Copy);
        }
        catch (PartialResultException<byte[]> partial) when (partial.Error.EndReason == ConnectionEndReason.MessageTooLarge)
        {
            return;
        }
        catch (PartialResultException<byte[]> partial)
        {
            throw new InvalidOperationException($"{framer.GetType().Name} could not read back what it wrote: {partial.Error.Message}", partial.Error);
        }

        var expected = framer is WholeStreamFramer ? [[.. payload, .. payload]] : new[] { payload, payload };
        if (messages.Count != expected.Length || !messages.Zip(expected).All(pair => pair.First.AsSpan().SequenceEqual(pair.Second)))
        {
            throw new InvalidOperationException($"{framer.GetType().Name} read back {messages.Count} message(s) that differ from the {expected.Length} written.");
        }
    }
}
