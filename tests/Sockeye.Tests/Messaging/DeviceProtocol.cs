using System.Text.Json.Serialization;
using Sockeye.Framing;
using Sockeye.Messaging;

namespace Sockeye.Tests.Messaging;

/// <summary>The README's typed protocol: length-prefixed JSON messages that say what they are in a "type" field.</summary>
public sealed record DeviceMessage(string Type, string? Device = null, double? Celsius = null, string? Text = null);

[JsonSerializable(typeof(DeviceMessage))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
internal sealed partial class DeviceJson : JsonSerializerContext;

/// <summary>Answers "hello" with "welcome".</summary>
internal sealed class HelloHandler : MessageHandler<DeviceMessage>
{
    public static readonly JsonMessageCodec<DeviceMessage> Codec = new(DeviceJson.Default.DeviceMessage);

    public override ValueTask OnMessageAsync(Connection connection, DeviceMessage message)
    {
        connection.WriteMessage(Codec, new DeviceMessage("welcome", message.Device));
        return ValueTask.CompletedTask;
    }
}

/// <summary>Keeps the last temperature of each device, and acknowledges each reading.</summary>
internal sealed class ReadingHandler(Dictionary<string, double> temperatures) : MessageHandler<DeviceMessage>
{
    public override ValueTask OnMessageAsync(Connection connection, DeviceMessage message)
    {
        if (message.Celsius is not { } celsius || message.Device is not { } device)
        {
            throw new ArgumentException("A reading names its device and temperature.");
        }

        lock (temperatures)
        {
            temperatures[device] = celsius;
        }

        connection.WriteMessage(HelloHandler.Codec, new DeviceMessage("ack", device));
        return ValueTask.CompletedTask;
    }
}

/// <summary>Tells the device its message's type is unknown, and goes on.</summary>
internal sealed class UnknownTypeHandler : MessageHandler<DeviceMessage>
{
    public override ValueTask OnMessageAsync(Connection connection, DeviceMessage message)
    {
        connection.WriteMessage(HelloHandler.Codec, new DeviceMessage("error", Text: $"unknown type '{message.Type}'"));
        return ValueTask.CompletedTask;
    }
}
