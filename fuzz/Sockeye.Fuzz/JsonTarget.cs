using System.Buffers;
using System.Buffers.Binary;
using System.Text.Json.Serialization;
using Sockeye.Framing;

namespace Sockeye.Fuzz;

/// <summary>
/// Fuzz cases for <see cref="JsonMessageCodec{TMessage}"/>, as a device's bytes reach it. The first byte picks the
/// maximum message size, the second how many bytes each read returns, the rest is read twice: as the stream a peer
/// sends (length-prefixed messages), and as the payload of one message framed for it (so the fuzzer spends its time
/// in the JSON, not in getting a length right). Only <see cref="ProtocolException"/> may escape; anything else, or a
/// broken promise, throws <see cref="InvalidOperationException"/>. The promises: those of every reader
/// (<see cref="MessageReaderChecks"/>); no payload over the maximum, and a framed payload over it ends with
/// <see cref="ConnectionEndReason.MessageTooLarge"/>, one within it never does; every message read, written by the
/// codec, reads back as one message that writes the same bytes again; except one holding a number past a double's
/// range (<c>1e400</c>), which System.Text.Json reads as an infinity it refuses to write (as the codec documents, it
/// is the application's to refuse): writing it throws <see cref="ArgumentException"/> and leaves the output empty.
/// </summary>
public static class JsonTarget
{
    private static readonly long s_unbounded = MessageFramer.DefaultMaxMessageSize;

    public static void Run(ReadOnlySpan<byte> data)
    {
        if (data.Length < 2)
        {
            return;
        }

        var maxMessageSize = 1 + ((data[0] & 0x7f) * 8);
        var readSize = 1 + (data[1] % 64);
        var payload = data[2..].ToArray();
        var codec = new JsonMessageCodec<JsonFuzzMessage>(JsonFuzzContext.Default.JsonFuzzMessage) { MaxMessageSize = maxMessageSize };

        foreach (var written in Read(codec, payload, readSize, maxMessageSize, out _))
        {
            ReadBack(written, readSize);
        }

        var framed = new byte[LengthPrefixFramer.HeaderLength + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(framed, (uint)payload.Length);
        payload.CopyTo(framed, LengthPrefixFramer.HeaderLength);
        var messages = Read(codec, framed, readSize, maxMessageSize, out var error);
        if (payload.Length > maxMessageSize && error?.EndReason != ConnectionEndReason.MessageTooLarge)
        {
            throw new InvalidOperationException($"A payload of {payload.Length} bytes over the maximum of {maxMessageSize} ended with {error?.EndReason.ToString() ?? "no error"}, not MessageTooLarge.");
        }

        if (payload.Length <= maxMessageSize && error?.EndReason == ConnectionEndReason.MessageTooLarge)
        {
            throw new InvalidOperationException($"A payload of {payload.Length} bytes within the maximum of {maxMessageSize} was refused as too large.");
        }

        if (error is null && messages.Count != 1)
        {
            throw new InvalidOperationException($"One framed payload read as {messages.Count} messages.");
        }

        foreach (var written in messages)
        {
            ReadBack(written, readSize);
        }
    }

    /// <summary>Reads <paramref name="input"/> both ways; each message comes back as the codec writes it.</summary>
    private static List<byte[]> Read(JsonMessageCodec<JsonFuzzMessage> codec, byte[] input, int readSize, long maxMessageSize, out ProtocolException? error)
    {
        (var messages, error) = MessageReaderChecks.ReadBothWays(codec, input, readSize, maxMessageSize, (_, frameLength) =>
        {
            if (frameLength - LengthPrefixFramer.HeaderLength > maxMessageSize)
            {
                throw new InvalidOperationException($"The codec read a payload of {frameLength - LengthPrefixFramer.HeaderLength} bytes over the maximum of {maxMessageSize}.");
            }
        }, message => Write(codec, message), (a, b) => a.AsSpan().SequenceEqual(b));
        return messages;
    }

    /// <summary>What the codec wrote reads back as one message, which the codec writes as the same bytes.</summary>
    private static void ReadBack(byte[] written, int readSize)
    {
        if (written.Length == 0)
        {
            return;     // a message with an infinity, which Write checked was refused with nothing written
        }

        var codec = new JsonMessageCodec<JsonFuzzMessage>(JsonFuzzContext.Default.JsonFuzzMessage) { MaxMessageSize = s_unbounded };
        List<byte[]> again;
        try
        {
            again = MessageReaderChecks.ReadAll(codec, written, readSize, message => Write(codec, message));
        }
        catch (PartialResultException<byte[]> partial)
        {
            throw new InvalidOperationException($"The codec could not read back what it wrote ({Convert.ToHexString(written)}): {partial.Error.Message}", partial.Error);
        }

        if (again.Count != 1 || !again[0].AsSpan().SequenceEqual(written))
        {
            throw new InvalidOperationException($"What the codec wrote ({Convert.ToHexString(written)}) read back as {again.Count} message(s) that write differently.");
        }
    }

    private static byte[] Write(JsonMessageCodec<JsonFuzzMessage> codec, JsonFuzzMessage message)
    {
        var output = new ArrayBufferWriter<byte>();
        if (HasInfinity(message))
        {
            try
            {
                codec.WriteMessage(message, output);
            }
            catch (ArgumentException)
            {
                return output.WrittenCount == 0 ? [] : throw new InvalidOperationException($"A message the codec refused to write left {output.WrittenCount} bytes in the output.");
            }

            throw new InvalidOperationException("A message holding an infinity was written.");
        }

        codec.WriteMessage(message, output);
        return output.WrittenSpan.ToArray();
    }

    private static bool HasInfinity(JsonFuzzMessage? message)
    {
        for (; message is not null; message = message.Child)
        {
            if (message.Value is { } value && !double.IsFinite(value))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>A device message with a field of each JSON kind: strings, numbers, booleans, arrays, objects, nesting.</summary>
public sealed record JsonFuzzMessage(
    string Type,
    long? Id = null,
    double? Value = null,
    bool? Flag = null,
    string[]? Tags = null,
    Dictionary<string, string>? Fields = null,
    JsonFuzzMessage? Child = null);

[JsonSerializable(typeof(JsonFuzzMessage))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, MaxDepth = 16)]
internal sealed partial class JsonFuzzContext : JsonSerializerContext;
