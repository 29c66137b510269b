using System.Net;
using System.Net.Sockets;
using Sockeye;

// A line-based chat server. Try it: `dotnet run --project samples/Chat`, then `nc localhost 11000` in two terminals.
// The first line a client sends is its nickname; then `/join ROOM`, `/who`, `/msg NICK text`, or a line for its room.
var host = IPAddress.Loopback;
var port = 11000;
for (var i = 0; i < args.Length; i++)
{
    var value = i + 1 < args.Length ? args[i + 1] : null;
    var ok = args[i] switch
    {
        "--port" => int.TryParse(value, out port) && port is >= 0 and <= 65535,
        "--host" => IPAddress.TryParse(value, out host!),
        _ => false,
    };
    if (!ok)
    {
        Console.Error.WriteLine($"chat: expected --port 0-65535 or --host ADDRESS, got '{string.Join(' ', args[i..Math.Min(i + 2, args.Length)])}'.");
        return 2;
    }

    i++;
}

// People type into telnet or socat a keystroke at a time: no minimum data rate (the default, 240 B/s after 5 s, would
// end them partway through a line).
var options = new SocketServerOptions { MinDataRate = 0 };
options.Listen(host, port);
var chat = new ChatServer();
await using var server = new SocketServer(options, chat.RunAsync);
try
{
    await server.StartAsync();
}
catch (Exception ex) when (ex is AddressInUseException or SocketException)
{
    Console.Error.WriteLine($"chat: {ex.Message}");
    return 1;
}

Console.WriteLine($"Chat listening on {server.EndPoints[0]}");
await server.WaitForShutdownAsync();
return 0;
