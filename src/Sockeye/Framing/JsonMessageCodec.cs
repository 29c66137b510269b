using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Sockeye.Framing;

/// <summary>
/// Messages as JSON, each preceded by its length (a 4-byte big-endian unsigned integer, as
/// <see cref="LengthPrefixFramer"/> frames): the reader and writer of <typeparamref name="TMessage"/>, through
/// System.Text.Json's source-generated metadata, so it works unchanged under trimming and Native AOT.
/// </summary>
/// <typeparam name="TMessage">The message type: a class or record, polymorphic or not, that a <c>JsonSerializerContext</c> describes.</typeparam>
/// <remarks>
/// <para>
/// A payload that is not one JSON value of <typeparamref name="TMessage"/> (malformed JSON, trailing bytes, a value
/// of the wrong shape, or <c>null</c>) is a <see cref="ProtocolException"/> made by
/// <see cref="ProtocolException.InvalidMessage"/>: its frame is consumed, so the stream is still in step. It ends that
/// client's connection with <see cref="ConnectionEndReason.ProtocolError"/>, unless
/// <c>MessageConnectionHandler&lt;TMessage&gt;.OnInvalidMessage</c> replies and goes on. A length over the maximum
/// message size ends the connection as soon as the header arrives, whatever the handler says.
/// </para>
/// <para>
/// A message that reads may still be one the codec cannot write back: System.Text.Json reads a number past the
/// range of a <see cref="double"/> or <see cref="float"/> (<c>1e400</c>, <c>-1e309</c>; <c>1e39</c> for a
/// <see cref="float"/>) as an infinity rather than an error, but refuses to write an infinity or NaN unless the
/// options allow named floating-point literals (<c>JsonNumberHandling.AllowNamedFloatingPointLiterals</c>).
/// The codec cannot tell which numbers of a message matter, so the application checks the values it keeps or echoes
/// (<see cref="double.IsFinite(double)"/>), and answers a bad one as it answers other bad requests; otherwise one
/// client's reading, kept and written later, makes <see cref="WriteMessage"/> throw in another client's reply.
/// </para>
/// <para>
/// Each message is deserialized from the receive buffer, without copying the payload first, and serialized
/// through a buffer kept per thread, without allocating one per message. Only a message serialized whole reaches
/// the output: one whose serialization throws part way (an infinity, say) leaves nothing in it, so a handler that
/// catches the exception can still write another reply to an intact stream.
/// </para>
/// </remarks>
/// <example>
/// <code>
/// [JsonSerializable(typeof(DeviceMessage))]
/// internal sealed partial class DeviceJson : JsonSerializerContext;
///
/// var codec = new JsonMessageCodec&lt;DeviceMessage&gt;(DeviceJson.Default.DeviceMessage);
/// await foreach (var message in connection.ReadMessagesAsync(codec))
/// {
///     connection.WriteMessage(codec, Reply(message));
/// }
/// </code>
/// </example>
public sealed class JsonMessageCodec<TMessage> : IMessageReader<TMessage>, IMessageWriter<TMessage>
{
    private static readonly LengthPrefixFramer s_frames = new();

    // Serialized payloads are staged here to learn their length before the header is written; one per thread, and
    // given back when a large message grew it, so that one message cannot pin a large buffer for good.
    [ThreadStatic]
    private static Staging? t_staging;

    private readonly JsonTypeInfo<TMessage> _typeInfo;

    /// <summary>Creates a codec for the type <paramref name="typeInfo"/> describes.</summary>
    /// <param name="typeInfo">The type's source-generated metadata, such as <c>MyJsonContext.Default.MyMessage</c>.</param>
    public JsonMessageCodec(JsonTypeInfo<TMessage> typeInfo)
    {
        ArgumentNullException.ThrowIfNull(typeInfo);
        _typeInfo = typeInfo;
    }

    /// <summary>
    /// The largest payload accepted, in bytes, or <see langword="null"/> (the default) for the connection's
    /// <see cref="Connection.MaxMessageSize"/>.
    /// </summary>
    public long? MaxMessageSize
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value ?? 1, nameof(value));
            field = value;
        }
    }

    /// <inheritdoc />
    public bool TryParseMessage(
        in ReadOnlySequence<byte> input,
        long maxMessageSize,
        ref SequencePosition consumed,
        ref SequencePosition examined,
        [MaybeNullWhen(false)] out TMessage message)
    {
        if (!s_frames.TryParseMessage(input, maxMessageSize, ref consumed, ref examined, out var payload))
        {
            message = default;
            return false;
        }

        // The framer has moved consumed past the whole frame: a payload that does not deserialize leaves the stream in step.
        message = Deserialize(payload);
        return true;
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">
    /// The message is <see langword="null"/>, or holds a value JSON cannot represent under the options, such as an
    /// infinite or NaN floating-point number; <paramref name="output"/> is left as it was.
    /// </exception>
    public void WriteMessage(TMessage message, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (message is null)
        {
            throw new ArgumentException("A message cannot be null.", nameof(message));
        }

        // Serialized whole before a byte reaches the output: a value the serializer refuses part way (an infinity)
        // throws with the output as it was, not a header and half a payload that would corrupt the next reply.
        var staging = t_staging ??= new Staging();
        try
        {
            JsonSerializer.Serialize(staging.Writer(_typeInfo.Options), message, _typeInfo);
            var payload = staging.Buffer.WrittenSpan;
            BinaryPrimitives.WriteUInt32BigEndian(output.GetSpan(LengthPrefixFramer.HeaderLength), (uint)payload.Length);
            output.Advance(LengthPrefixFramer.HeaderLength);
            output.Write(payload);
        }
        finally
        {
            staging.Reset();
        }
    }

    private TMessage Deserialize(in ReadOnlySequence<byte> payload)
    {
        if (payload.IsSingleSegment)
        {
            return Deserialize(payload.FirstSpan);
        }

        // One contiguous copy, bounded by the maximum message size: System.Text.Json's multi-segment reader throws
        // IndexOutOfRangeException, not JsonException, on some invalid literals split across segments (fuzz target
        // json, fuzz/corpus/json/finding-literal-across-segments), and a client's garbage must stay a protocol error.
        var length = checked((int)payload.Length);
        var copy = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            payload.CopyTo(copy);
            return Deserialize(copy.AsSpan(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(copy);
        }
    }

    private TMessage Deserialize(ReadOnlySpan<byte> payload)
    {
        try
        {
            var reader = new Utf8JsonReader(payload, new JsonReaderOptions
            {
                CommentHandling = _typeInfo.Options.ReadCommentHandling,
                AllowTrailingCommas = _typeInfo.Options.AllowTrailingCommas,
                MaxDepth = _typeInfo.Options.MaxDepth,
            });
            var message = JsonSerializer.Deserialize(ref reader, _typeInfo);

            // Deserialize stops after one value; anything but whitespace after it is another value, or garbage.
            if (reader.Read())
            {
                throw ProtocolException.InvalidMessage("A JSON message holds more than one value.");
            }

            return message ?? throw ProtocolException.InvalidMessage("A JSON message is null.");
        }
        catch (JsonException error)
        {
            throw ProtocolException.InvalidMessage($"A message is not JSON of {typeof(TMessage).Name}: {error.Message}", error);
        }
    }

    /// <summary>A thread's buffer and JSON writer for staging payloads.</summary>
    [SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "A JSON writer over an array buffer holds no resource; the staging lives as long as its thread.")]
    private sealed class Staging
    {
        private const int KeptCapacity = 64 * 1024;

        private Utf8JsonWriter? _writer;
        private JsonSerializerOptions? _options;

        public ArrayBufferWriter<byte> Buffer { get; private set; } = new(256);

        public Utf8JsonWriter Writer(JsonSerializerOptions options)
        {
            if (_writer is null || !ReferenceEquals(options, _options))
            {
                _writer = new Utf8JsonWriter(Buffer, new JsonWriterOptions
                {
                    Encoder = options.Encoder,
                    Indented = options.WriteIndented,
                    MaxDepth = options.MaxDepth,
                    SkipValidation = true,
                });
                _options = options;
            }

            return _writer;
        }

        public void Reset()
        {
            if (Buffer.Capacity > KeptCapacity)
            {
                Buffer = new ArrayBufferWriter<byte>(256);
                _writer = null;
            }
            else
            {
                Buffer.ResetWrittenCount();
                _writer!.Reset(Buffer);
            }
        }
    }
}
