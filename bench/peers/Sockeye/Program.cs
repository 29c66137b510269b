using System.Net;
using Sockeye;
using Sockeye.Cli.Handlers;
using Sockeye.Framing;
using Sockeye.Handlers;
using Sockeye.Peers;

// `sockeye serve` with the same built-in handlers and output, plus --inline for SocketServerOptions.InlineScheduling,
// which the CLI does not expose.
return await PeerHost.RunAsync("peer-sockeye", args, ["--inline"], async options =>
{
    // No connection limit, like every peer: the 15,000-connection workload is above the default of 10,000.
    var serverOptions = new SocketServerOptions { InlineScheduling = options.Switches.Contains("--inline"), MaxConnections = null };
    serverOptions.Listen(IPAddress.Loopback, options.Port);

    var output = HandlerOutput.Text(Console.OpenStandardOutput());
    ConnectionHandler handler = options.Handler switch
    {
        PeerHandler.Echo => new EchoHandler(),
        PeerHandler.EofEcho => new EofEchoHandler(output),
        PeerHandler.Relay => new RelayHandler(new LineFramer(), new ConnectionGroup()),
        _ => new PrintHandler(output),
    };

    var server = new SocketServer(serverOptions, handler);
    await server.StartAsync();
    return new RunningPeer(server.EndPoints[0], async () =>
    {
        await server.StopAsync();
        await output.DisposeAsync();
    });
});
