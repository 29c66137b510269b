using System.Text.Json.Serialization;
using Sockeye.Framing;
using Sockeye.Messaging;
using Sockeye.Testing;

namespace Sockeye.Tests.Messaging;

/// <summary>
/// <see cref="TypeRouter{TMessage}"/>: polymorphic JSON messages, read by System.Text.Json's type discriminator, each
/// routed to a handler of its own type with no cast; an unknown discriminator to the fallback.
/// </summary>
public class TypeRouterTests
{
    private static readonly JsonMessageCodec<Gadget> s_codec = new(GadgetJson.Default.Gadget);

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Each_type_goes_to_its_own_typed_handler_and_unknown_types_to_the_fallback()
    {
        var readings = new List<(string, double)>();
        var router = new TypeRouter<Gadget>()
            .Map<GadgetReading>((connection, reading) =>
            {
                readings.Add((reading.Device, reading.Celsius));
                connection.WriteMessage(s_codec, new GadgetAck(reading.Device));
                return default;
            })
            .Map(new HelloHandler())
            .MapFallback((connection, message) =>
            {
                connection.WriteMessage(s_codec, new GadgetError($"unknown: {message.GetType().Name}"));
                return default;
            });
        await using var test = TestConnection.Start(new MessageConnectionHandler<Gadget>(s_codec, router));

        // The discriminator anywhere in the object (AllowOutOfOrderMetadataProperties), and one the base type does not
        // list read as a plain Gadget (IgnoreUnrecognizedTypeDiscriminators), for the fallback.
        await test.SendAsync(Frame("""{"device":"d1","celsius":21.5,"type":"reading"}"""), Token);
        await test.SendAsync(Frame("""{"type":"hello","device":"d2"}"""), Token);
        await test.SendAsync(Frame("""{"type":"reboot","device":"d3"}"""), Token);

        Assert.Equal(new GadgetAck("d1"), await test.ReceiveMessageAsync(s_codec, Token));
        Assert.Equal(new GadgetAck("hi d2"), await test.ReceiveMessageAsync(s_codec, Token));
        Assert.Equal(new GadgetError("unknown: Gadget"), await test.ReceiveMessageAsync(s_codec, Token));
        Assert.Equal([("d1", 21.5)], readings);
        await test.CompleteSendingAsync();
        await test.Completion;
        Assert.Equal(ConnectionEndReason.ClientClosed, test.Connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Without_a_fallback_an_unknown_type_ends_its_connection_as_a_protocol_error()
    {
        var router = new TypeRouter<Gadget>().Map<GadgetReading>((_, _) => default);
        await using var test = TestConnection.Start(new MessageConnectionHandler<Gadget>(s_codec, router));

        await test.SendAsync(Frame("""{"type":"hello","device":"d2"}"""), Token);

        await test.Completion;
        Assert.Equal(ConnectionEndReason.ProtocolError, test.Connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task A_type_is_mapped_once()
    {
        var router = new TypeRouter<Gadget>().Map<GadgetReading>((_, _) => default);

        Assert.Throws<ArgumentException>(() => router.Map<GadgetReading>((_, _) => default));
        return Task.CompletedTask;
    }

    /// <summary>The JSON as a device sends it, whatever order its properties are in: framed as the codec frames.</summary>
    private static byte[] Frame(string json)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        new LengthPrefixFramer().WriteMessage(System.Text.Encoding.UTF8.GetBytes(json), buffer);
        return buffer.WrittenSpan.ToArray();
    }

    private sealed class HelloHandler : MessageHandler<GadgetHello>
    {
        public override ValueTask OnMessageAsync(Connection connection, GadgetHello message)
        {
            connection.WriteMessage(s_codec, new GadgetAck($"hi {message.Device}"));
            return default;
        }
    }
}

[JsonPolymorphic(TypeDiscriminatorPropertyName = "type", IgnoreUnrecognizedTypeDiscriminators = true)]
[JsonDerivedType(typeof(GadgetReading), "reading")]
[JsonDerivedType(typeof(GadgetHello), "hello")]
[JsonDerivedType(typeof(GadgetAck), "ack")]
[JsonDerivedType(typeof(GadgetError), "error")]
public record Gadget;

public sealed record GadgetReading(string Device, double Celsius) : Gadget;

public sealed record GadgetHello(string Device) : Gadget;

public sealed record GadgetAck(string Device) : Gadget;

public sealed record GadgetError(string Text) : Gadget;

[JsonSerializable(typeof(Gadget))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, AllowOutOfOrderMetadataProperties = true)]
internal sealed partial class GadgetJson : JsonSerializerContext;
