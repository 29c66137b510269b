using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using Sockeye.Peers;
using Sockeye.Peers.Kestrel;

// Kestrel as shipped (its defaults), or with --inline: UnsafePreferInlineScheduling, the documented tuning for
// handlers that never block. Its docs pair it with DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1, which
// bench/compare sets for that variant.
return await PeerHost.RunAsync("peer-kestrel", args, ["--inline"], async options =>
{
    var builder = WebApplication.CreateSlimBuilder();
    builder.Logging.ClearProviders();
    if (options.Switches.Contains("--inline"))
    {
        builder.WebHost.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = true);
    }

    ListenOptions? listener = null;
    builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, options.Port, listen =>
    {
        listener = listen;
        _ = options.Handler switch
        {
            PeerHandler.Echo => listen.UseConnectionHandler<EchoConnectionHandler>(),
            PeerHandler.EofEcho => listen.UseConnectionHandler<EofEchoConnectionHandler>(),
            PeerHandler.Relay => listen.UseConnectionHandler<RelayConnectionHandler>(),
            _ => listen.UseConnectionHandler<PrintConnectionHandler>(),
        };
    }));

    var app = builder.Build();
    await app.StartAsync();

    // Kestrel writes the bound endpoint back into the listen options, so port 0 reads as the real port.
    return new RunningPeer(listener!.EndPoint, () => app.StopAsync());
});
