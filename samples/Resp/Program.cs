// A Redis-protocol (RESP2) in-memory key-value server on Sockeye: see README.md beside this file.
using System.Globalization;
using System.Net;
using Sockeye;
using Sockeye.Samples.Resp;

var host = IPAddress.Loopback;
var port = 6379;
var maxRequestSize = 64L << 20;     // a whole command, its values included: see README.md for the memory it may take
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
        case "--max-request-size" when value is not null && TryParseSize(value, out var size):
            maxRequestSize = size;
            i++;
            break;
        case "-h" or "--help":
            Console.WriteLine("Usage: sockeye-resp [--host ADDRESS] [--port N] [--max-request-size BYTES]   (127.0.0.1:6379, 64m by default)");
            return 0;
        case "--host":
            return Fail($"--host needs an IP address, not '{value}'.");
        case "--port":
            return Fail($"--port needs a number from 0 to 65535, not '{value}'.");
        case "--max-request-size":
            return Fail($"--max-request-size needs a size from 1k to 1g (bytes, or with k, m or g), not '{value}'.");
        default:
            return Fail($"unknown option '{args[i]}' (try --help).");
    }
}

using var store = new KeyValueStore();
var options = new SocketServerOptions
{
    IdleTimeout = Timeout.InfiniteTimeSpan,     // Redis keeps idle clients (its "timeout 0")

    // The largest command: a request over it resets its connection. Each connection may buffer this much while a
    // command arrives, so it bounds the memory a client can make the server hold (Redis allows up to 1 GB).
    MaxMessageSize = maxRequestSize,

    // Redis has no minimum data rate: someone typing a command into telnet may take as long as they like. (The
    // library's default, 240 B/s after 5 s, would reset them mid-command.)
    MinDataRate = 0,

    // After QUIT, a protocol error or the stop, the connection waits for the client's FIN (reading and dropping what
    // it still sends, so the close sends no reset that could destroy the last reply) for a quarter of a second, not
    // the library's 2 s: an idle redis-cli answers a FIN only when it next reads, and would hold the shutdown that
    // long. Redis does not wait at all.
    LingerTimeout = TimeSpan.FromMilliseconds(250),

    // A command half-sent when the server stops gets 5 s to arrive whole, not the library's 30.
    ShutdownTimeout = TimeSpan.FromSeconds(5),
    InlineScheduling = true,                     // no handler here ever blocks
    ConnectionLogScope = false,
};
options.Listen(host, port);
await using var server = new SocketServer(options, new RespConnectionHandler(RespCommands.CreateRouter(store)));

try
{
    await server.StartAsync();
}
catch (IOException error)
{
    return Fail($"cannot listen on {new IPEndPoint(host, port)}: {error.Message}");
}

Console.WriteLine($"Listening on {server.EndPoints[0]}");
await server.WaitForShutdownAsync();        // SIGTERM or Ctrl+C: a graceful stop; a second one aborts what is left
Console.WriteLine("Stopped");
return 0;

// "65536", "64k", "64m", "1g": from 1 KiB to 1 GiB.
static bool TryParseSize(string text, out long bytes)
{
    var shift = text.Length == 0 ? 0 : char.ToLowerInvariant(text[^1]) switch { 'k' => 10, 'm' => 20, 'g' => 30, _ => 0 };
    var digits = shift == 0 ? text : text[..^1];
    bytes = long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number <= (1L << 30) ? number << shift : 0;
    return bytes is >= 1024 and <= 1L << 30;
}

static int Fail(string message)
{
    Console.Error.WriteLine($"sockeye-resp: {message}");
    return 2;
}
