using System.Buffers;
using System.IO.Pipelines;
using Sockeye.Framing;

namespace Sockeye.Fuzz;

/// <summary>
/// One fuzz case for the framers: the first byte picks a framer and a maximum message size, the second how many
/// bytes each read returns, the rest is what a peer sends. Only <see cref="ProtocolException"/> may escape the
/// framing code; anything else, or a broken promise (a message over the maximum, a message holding its own
/// delimiter, a message that does not read back as written), throws <see cref="InvalidOperationException"/>: a finding.
/// </summary>
/// <remarks>
/// Run by <c>Program</c> under SharpFuzz, and by a seeded, bounded test in CI, which links this file.
/// Everything completes synchronously: the input is in memory.
/// </remarks>
public static class FramingTarget
{
    public static void Run(ReadOnlySpan<byte> data)
    {
        if (data.Length < 2)
        {
            return;
        }

        var maxMessageSize = 1 + ((data[0] >> 3) * 8);
        var framer = CreateFramer(data[0] & 7, maxMessageSize);
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
        try
        {
            foreach (var message in ReadAll(framer, payload, readSize))
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
        catch (ProtocolException)
        {
            // The peer broke the format: the one error a framer may report.
        }
    }

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
            framer.WriteMessage(new ReadOnlySequence<byte>(payload), written);
        }
        catch (ArgumentException)
        {
            // Not a message this format can carry (a line that holds a line feed, say).
            return;
        }

        List<byte[]> messages;
        try
        {
            messages = ReadAll(framer, written.WrittenSpan.ToArray(), readSize);
        }
        catch (ProtocolException error) when (error.EndReason == ConnectionEndReason.MessageTooLarge)
        {
            return;
        }

        var expected = framer is WholeStreamFramer ? [[.. payload, .. payload]] : new[] { payload, payload };
        if (messages.Count != expected.Length || !messages.Zip(expected).All(pair => pair.First.AsSpan().SequenceEqual(pair.Second)))
        {
            throw new InvalidOperationException($"{framer.GetType().Name} read back {messages.Count} message(s) that differ from the {expected.Length} written.");
        }
    }

    private static List<byte[]> ReadAll(MessageFramer framer, byte[] input, int readSize)
    {
        // A stream reader returns at most a buffer's worth per read, so frames arrive split across reads.
        var reader = PipeReader.Create(new MemoryStream(input), new StreamPipeReaderOptions(bufferSize: readSize, minimumReadSize: 1));
        var messages = new List<byte[]>();
        var enumerator = reader.ReadMessagesAsync(framer).GetAsyncEnumerator();
        try
        {
            while (enumerator.MoveNextAsync().AsTask().GetAwaiter().GetResult())
            {
                messages.Add(enumerator.Current.ToArray());
            }
        }
        finally
        {
            enumerator.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        return messages;
    }
}
