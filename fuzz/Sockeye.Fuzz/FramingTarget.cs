using System.Buffers;
using System.IO.Pipelines;
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
        var (read, readError) = Collect(() => ReadAll(framer, payload, readSize));
        var (parsed, parseError) = Collect(() => ParseDirectly(framer, payload, readSize, maxMessageSize));
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

        // The reader may stop earlier than a bare framer (it also bounds what it buffers), so the two agree on the
        // messages both produced, and on all of them when neither stopped.
        var common = Math.Min(read.Count, parsed.Count);
        for (var i = 0; i < common; i++)
        {
            if (!read[i].AsSpan().SequenceEqual(parsed[i]))
            {
                throw new InvalidOperationException($"{framer.GetType().Name}: message {i} differs between a pipe reader and a resumed search.");
            }
        }

        if (readError is null && parseError is null && read.Count != parsed.Count)
        {
            throw new InvalidOperationException($"{framer.GetType().Name}: a pipe reader found {read.Count} message(s), a resumed search {parsed.Count}.");
        }
    }

    private static (List<byte[]> Messages, ProtocolException? Error) Collect(Func<List<byte[]>> read)
    {
        try
        {
            return (read(), null);
        }
        catch (PartialResultException partial)
        {
            // The peer broke the format: the one error a framer may report.
            return (partial.Messages, partial.Error);
        }
    }

    /// <summary>
    /// Calls the framer as a reader does, with the bytes arriving <paramref name="readSize"/> at a time in segments of
    /// their own, and checks every position it returns.
    /// </summary>
    private static List<byte[]> ParseDirectly(MessageFramer framer, byte[] payload, int readSize, long maxMessageSize)
    {
        var messages = new List<byte[]>();
        var whole = SegmentedSequence.Of(payload, readSize);
        long start = 0;
        long resume = 0;
        try
        {
            for (long available = Math.Min(readSize, payload.Length); ; available = Math.Min(available + readSize, payload.Length))
            {
                while (start < available)
                {
                    var input = whole.Slice(start, available - start);
                    var consumed = input.Start;
                    var examined = input.GetPosition(resume - start);
                    var found = framer.TryParseMessage(input, maxMessageSize, ref consumed, ref examined, out var message);
                    var consumedOffset = Offset(input, consumed, "consumed");
                    var examinedOffset = Offset(input, examined, "examined");
                    if (consumedOffset > examinedOffset)
                    {
                        throw new InvalidOperationException($"{framer.GetType().Name} set consumed ({consumedOffset}) past examined ({examinedOffset}).");
                    }

                    if (!found)
                    {
                        if (consumedOffset != 0)
                        {
                            throw new InvalidOperationException($"{framer.GetType().Name} consumed {consumedOffset} bytes without a message.");
                        }

                        if (examinedOffset < resume - start)
                        {
                            throw new InvalidOperationException($"{framer.GetType().Name} moved examined back from {resume - start} to {examinedOffset}.");
                        }

                        resume = start + examinedOffset;
                        break;
                    }

                    if (consumedOffset == 0 || consumedOffset != examinedOffset)
                    {
                        throw new InvalidOperationException($"{framer.GetType().Name} found a message but set consumed {consumedOffset}, examined {examinedOffset}.");
                    }

                    if (message.Length > maxMessageSize || message.Length > consumedOffset)
                    {
                        throw new InvalidOperationException($"{framer.GetType().Name} returned a message of {message.Length} bytes from a frame of {consumedOffset} (maximum {maxMessageSize}).");
                    }

                    messages.Add(message.ToArray());
                    start += consumedOffset;
                    resume = start;
                }

                if (available == payload.Length)
                {
                    break;
                }
            }

            if (start < payload.Length)
            {
                if (!framer.TryParseFinalMessage(whole.Slice(start), maxMessageSize, out var last))
                {
                    throw new ProtocolException("The stream ended inside a frame.");
                }

                if (last.Length > maxMessageSize)
                {
                    throw new InvalidOperationException($"{framer.GetType().Name} returned a last message of {last.Length} bytes over the maximum of {maxMessageSize}.");
                }

                messages.Add(last.ToArray());
            }
        }
        catch (ProtocolException error)
        {
            throw new PartialResultException(messages, error);
        }

        return messages;
    }

    private static long Offset(in ReadOnlySequence<byte> input, SequencePosition position, string name)
    {
        var offset = input.GetOffset(position) - input.GetOffset(input.Start);
        return offset >= 0 && offset <= input.Length
            ? offset
            : throw new InvalidOperationException($"{name} ({offset}) lies outside the {input.Length} bytes the framer was given.");
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
            messages = ReadAll(framer, written.WrittenSpan.ToArray(), readSize);
        }
        catch (PartialResultException partial) when (partial.Error.EndReason == ConnectionEndReason.MessageTooLarge)
        {
            return;
        }
        catch (PartialResultException partial)
        {
            throw new InvalidOperationException($"{framer.GetType().Name} could not read back what it wrote: {partial.Error.Message}", partial.Error);
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
        catch (ProtocolException error)
        {
            throw new PartialResultException(messages, error);
        }
        finally
        {
            enumerator.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        return messages;
    }

    /// <summary>The messages read before a peer's protocol error, and the error: not a finding.</summary>
    private sealed class PartialResultException(List<byte[]> messages, ProtocolException error) : Exception(error.Message, error)
    {
        public List<byte[]> Messages { get; } = messages;

        public ProtocolException Error { get; } = error;
    }
}
