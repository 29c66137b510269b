// A Redis-protocol (RESP2) in-memory key-value server on Sockeye: see README.md beside this file.
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
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

    // Redis closes a connection at once, after QUIT or when it stops, without waiting for the client's FIN; the
    // library's 2 s lingering close would hold every idle client, and so the shutdown, for 2 to 3 s. The cost, as in
    // Redis: a client that sends more after QUIT or a protocol error may get a reset instead of its last reply.
    LingerTimeout = TimeSpan.Zero,
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
var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
await stop.Task;

await server.StopAsync();
Console.WriteLine("Stopped");
return 0;

void Stop(PosixSignalContext context)
{
    context.Cancel = true;
    stop.TrySetResult();
}

static int Fail(string message)
{
    Console.Error.WriteLine($"sockeye-resp: {message}");
    return 2;
}
