using Microsoft.Extensions.Hosting;

namespace Sockeye.Hosting;

/// <summary>Starts the server with the host, and stops it gracefully with the host.</summary>
internal sealed class SockeyeHostedService(SocketServer server) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => server.StartAsync(cancellationToken);

    /// <summary>
    /// Drains as the server does on its own; when the host's shutdown timeout cancels <paramref name="cancellationToken"/>
    /// first, what is left is aborted at once.
    /// </summary>
    public Task StopAsync(CancellationToken cancellationToken) => server.StopAsync(cancellationToken);
}
