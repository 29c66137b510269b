using System.Buffers;
using System.IO.Pipelines;
using Sockeye.Framing;

namespace Sockeye.Fuzz;

/// <summary>
/// The promises every <see cref="IMessageReader{TMessage}"/> keeps, whatever the protocol: the framers', the JSON
/// codec's, a protocol reader's. Each check reads a stream two ways, as a connection's read loop does over a pipe
/// and by calling the reader directly with the bytes arriving a few at a time, and throws
/// <see cref="InvalidOperationException"/> on a broken promise: consumed never passes examined, neither leaves the
/// bytes given, examined never moves back, a reader that needs more consumes nothing, and the two ways agree.
/// A <see cref="ProtocolException"/> (the peer broke the format) is not a finding: it comes back as
/// <see cref="PartialResultException{TOut}"/>, with the messages read before it.
/// </summary>
/// <remarks>
/// A message may point into the bytes it was parsed from, so <c>take</c> turns it into something that outlives the
/// next call (the framers' bytes are copied) before the reader is called again.
/// </remarks>
public static class MessageReaderChecks
{
    /// <summary>
    /// Calls the reader as the read loop does, with the bytes arriving <paramref name="readSize"/> at a time in
    /// segments of their own, checks every position it returns, and checks each message with
    /// <paramref name="check"/> (given the message and the length of its frame) before taking it.
    /// </summary>
    /// <remarks>
    /// With <c>skips</c>, the protocol has bytes that are no message (RESP's empty lines): a reader that finds no
    /// message may still consume what it skipped. A framer may not.
    /// </remarks>
    public static List<TOut> ParseDirectly<TMessage, TOut>(
        IMessageReader<TMessage> reader, byte[] payload, int readSize, long maxMessageSize,
        Action<TMessage, long> check, Func<TMessage, TOut> take, bool skips = false)
    {
        var name = reader.GetType().Name;
        var messages = new List<TOut>();
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
                    var found = reader.TryParseMessage(input, maxMessageSize, ref consumed, ref examined, out var message);
                    var consumedOffset = Offset(input, consumed, "consumed");
                    var examinedOffset = Offset(input, examined, "examined");
                    if (consumedOffset > examinedOffset)
                    {
                        throw new InvalidOperationException($"{name} set consumed ({consumedOffset}) past examined ({examinedOffset}).");
                    }

                    if (!found)
                    {
                        if (consumedOffset != 0 && !skips)
                        {
                            throw new InvalidOperationException($"{name} consumed {consumedOffset} bytes without a message.");
                        }

                        if (examinedOffset < resume - start)
                        {
                            throw new InvalidOperationException($"{name} moved examined back from {resume - start} to {examinedOffset}.");
                        }

                        resume = start + examinedOffset;
                        start += consumedOffset;
                        break;
                    }

                    if (consumedOffset == 0 || consumedOffset != examinedOffset)
                    {
                        throw new InvalidOperationException($"{name} found a message but set consumed {consumedOffset}, examined {examinedOffset}.");
                    }

                    check(message!, consumedOffset);
                    messages.Add(take(message!));
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
                if (!reader.TryParseFinalMessage(whole.Slice(start), maxMessageSize, out var last))
                {
                    throw new ProtocolException("The stream ended inside a frame.");
                }

                check(last, payload.Length - start);
                messages.Add(take(last));
            }
        }
        catch (ProtocolException error)
        {
            throw new PartialResultException<TOut>(messages, error);
        }

        return messages;
    }

    /// <summary>Reads every message with the read loop over a pipe that returns at most <paramref name="readSize"/> bytes a read.</summary>
    public static List<TOut> ReadAll<TMessage, TOut>(IMessageReader<TMessage> reader, byte[] input, int readSize, Func<TMessage, TOut> take)
    {
        // A stream reader returns at most a buffer's worth per read, so frames arrive split across reads.
        var pipe = PipeReader.Create(new MemoryStream(input), new StreamPipeReaderOptions(bufferSize: readSize, minimumReadSize: 1));
        var messages = new List<TOut>();
        var enumerator = pipe.ReadMessagesAsync(reader).GetAsyncEnumerator();
        try
        {
            while (enumerator.MoveNextAsync().AsTask().GetAwaiter().GetResult())
            {
                messages.Add(take(enumerator.Current));
            }
        }
        catch (ProtocolException error)
        {
            throw new PartialResultException<TOut>(messages, error);
        }
        finally
        {
            enumerator.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        return messages;
    }

    /// <summary>
    /// Reads <paramref name="input"/> both ways and checks that they agree: on the messages both produced, and on
    /// all of them when neither stopped (the read loop may stop earlier than a bare reader, as it also bounds what
    /// it buffers). Returns what the read loop found, as a connection's handler sees it: the messages, and the
    /// protocol error it stopped at, if any.
    /// </summary>
    public static (List<TOut> Messages, ProtocolException? Error) ReadBothWays<TMessage, TOut>(
        IMessageReader<TMessage> reader, byte[] input, int readSize, long maxMessageSize,
        Action<TMessage, long> check, Func<TMessage, TOut> take, Func<TOut, TOut, bool> same, bool skips = false)
    {
        var name = reader.GetType().Name;
        var (read, readError) = Collect(() => ReadAll(reader, input, readSize, take));
        var (parsed, parseError) = Collect(() => ParseDirectly(reader, input, readSize, maxMessageSize, check, take, skips));
        var common = Math.Min(read.Count, parsed.Count);
        for (var i = 0; i < common; i++)
        {
            if (!same(read[i], parsed[i]))
            {
                throw new InvalidOperationException($"{name}: message {i} differs between a pipe reader and a resumed search.");
            }
        }

        if (readError is null && parseError is null && read.Count != parsed.Count)
        {
            throw new InvalidOperationException($"{name}: a pipe reader found {read.Count} message(s), a resumed search {parsed.Count}.");
        }

        return (read, readError);
    }

    private static (List<TOut> Messages, ProtocolException? Error) Collect<TOut>(Func<List<TOut>> read)
    {
        try
        {
            return (read(), null);
        }
        catch (PartialResultException<TOut> partial)
        {
            // The peer broke the format: the one error a reader may report.
            return (partial.Messages, partial.Error);
        }
    }

    private static long Offset(in ReadOnlySequence<byte> input, SequencePosition position, string name)
    {
        var offset = input.GetOffset(position) - input.GetOffset(input.Start);
        return offset >= 0 && offset <= input.Length
            ? offset
            : throw new InvalidOperationException($"{name} ({offset}) lies outside the {input.Length} bytes the reader was given.");
    }
}

/// <summary>The messages read before a peer's protocol error, and the error: not a finding.</summary>
public sealed class PartialResultException<TOut>(List<TOut> messages, ProtocolException error) : Exception(error.Message, error)
{
    public List<TOut> Messages { get; } = messages;

    public ProtocolException Error { get; } = error;
}
