// Devices send length-prefixed JSON messages that say what they are in a "type" field; each type has its handler.
//   {"type":"hello","device":"d1"}                 -> {"type":"welcome","device":"d1"}
//   {"type":"reading","device":"d1","celsius":21.5} -> {"type":"ack","device":"d1"}   (the last reading is kept)
//   a reading without celsius, or one past a double's range (1e400)  -> {"type":"error",...}, and nothing is kept
//   {"type":"query","device":"d1"}                 -> {"type":"reading","device":"d1","celsius":21.5}
//   any other type                                 -> {"type":"error","text":"unknown type '...'"}, and the connection goes on
//   a message that is not JSON of a message (malformed, null, the wrong shape) -> {"type":"error","text":"malformed message"},
//                                                  and the device stays connected: the length prefix keeps the stream in step
// A message over 64 KiB ends that device's connection only.
//
// Usage: sockeye-telemetry [--host ADDRESS] [--port N]   (127.0.0.1:11000 by default; --port 0 picks a free port,
// --host 0.0.0.0 or :: listens on every interface). A bad option is one line on stderr and exit code 2.
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text.Json.Serialization;
using Sockeye;
using Sockeye.Framing;
using Sockeye.Messaging;
using Sockeye.Samples.Telemetry;

var host = IPAddress.Loopback;
var port = 11000;
for (var i = 0; i < args.Length; i++)
{
    var value = i + 1 < args.Length ? args[i + 1] : null;
    switch (args[i])
    {
        case "--host" when value is not null && IPAddress.TryParse(value, out var address):
            host = address;
            i++;
            break;
        case "--port" when value is not null && int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number <= IPEndPoint.MaxPort:
            port = number;
            i++;
            break;
        case "-h" or "--help":
            Console.WriteLine("Usage: sockeye-telemetry [--host ADDRESS] [--port N]   (127.0.0.1:11000 by default)");
            return 0;
        case "--host":
            return Fail($"--host needs an IP address, not '{value}'.");
        case "--port":
            return Fail($"--port needs a number from 0 to 65535, not '{value}'.");
        default:
            return Fail($"unknown option '{args[i]}' (try --help).");
    }
}

// The codec is the reader and the writer: 4-byte big-endian length, then JSON, through source-generated metadata.
var codec = new JsonMessageCodec<DeviceMessage>(DeviceJson.Default.DeviceMessage) { MaxMessageSize = 64 * 1024 };
var latest = new ConcurrentDictionary<string, double>();
var router = new MessageRouter<DeviceMessage, string>(message => message.Type, StringComparer.OrdinalIgnoreCase)
    .Map("hello", (connection, message) => Reply(connection, new DeviceMessage("welcome", message.Device)))
    .Map("reading", (connection, message) =>
    {
        if (message is not { Device: { } device, Celsius: { } celsius })
        {
            return Reply(connection, new DeviceMessage("error", Text: "a reading names its device and celsius"));
        }

        // System.Text.Json reads a number past double's range (1e400, -1e309) as an infinity, which it refuses to
        // write: kept, it would make every later query for this device throw. Refused here, it is this device's error.
        if (!double.IsFinite(celsius))
        {
            return Reply(connection, new DeviceMessage("error", device, Text: "celsius is out of range"));
        }

        latest[device] = celsius;
        return Reply(connection, new DeviceMessage("ack", device));
    })
    .Map("query", (connection, message) => Reply(connection, latest.TryGetValue(message.Device ?? string.Empty, out var celsius)
        ? new DeviceMessage("reading", message.Device, celsius)
        : new DeviceMessage("error", message.Device, Text: "no reading yet")))
    .MapFallback((connection, message) => Reply(connection, new DeviceMessage("error", Text: $"unknown type '{message.Type}'")));

var options = new SocketServerOptions();
options.Listen(host, port);
await using var server = new SocketServer(options, new MessageConnectionHandler<DeviceMessage>(codec, router)
{
    // The codec skipped the bad message's frame: tell the device, and read its next message.
    OnInvalidMessage = (connection, _) =>
    {
        connection.WriteMessage(codec, new DeviceMessage("error", Text: "malformed message"));
        return ValueTask.FromResult(MessageErrorAction.Continue);
    },
});
try
{
    await server.StartAsync();
}
catch (IOException error)
{
    return Fail($"cannot listen on {new IPEndPoint(host, port)}: {error.Message}");
}

Console.WriteLine($"Listening on {server.EndPoints[0]}");
await server.WaitForShutdownAsync();
return 0;

// Queued, not flushed: replies to messages that arrived together leave in one send.
ValueTask Reply(Connection connection, DeviceMessage reply)
{
    connection.WriteMessage(codec, reply);
    return ValueTask.CompletedTask;
}

static int Fail(string message)
{
    Console.Error.WriteLine($"sockeye-telemetry: {message}");
    return 2;
}

namespace Sockeye.Samples.Telemetry
{
    /// <summary>Every message: its type, and the fields some types carry.</summary>
    internal sealed record DeviceMessage(string Type, string? Device = null, double? Celsius = null, string? Text = null);

    /// <summary>System.Text.Json's source-generated metadata: no reflection, so trimming and Native AOT keep working.</summary>
    [JsonSerializable(typeof(DeviceMessage))]
    [JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
    internal sealed partial class DeviceJson : JsonSerializerContext;
}
