// A Redis-protocol (RESP2) in-memory key-value server on Sockeye: see README.md beside this file.
using System.Globalization;
using System.Net;
using Sockeye;
using Sockeye.Samples.Resp;

var host = IPAddress.Loopback;
var port = 6379;
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
            Console.WriteLine("Usage: sockeye-resp [--host ADDRESS] [--port N]   (127.0.0.1:6379 by default)");
            return 0;
        case "--host":
            return Fail($"--host needs an IP address, not '{value}'.");
        case "--port":
            return Fail($"--port needs a number from 0 to 65535, not '{value}'.");
        default:
            return Fail($"unknown option '{args[i]}' (try --help).");
    }
}

using var store = new KeyValueStore();
var options = new SocketServerOptions
{
    IdleTimeout = Timeout.InfiniteTimeSpan,     // Redis keeps idle clients (its "timeout 0")

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

static int Fail(string message)
{
    Console.Error.WriteLine($"sockeye-resp: {message}");
    return 2;
}
