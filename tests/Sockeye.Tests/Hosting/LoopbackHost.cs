using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Hosting;

/// <summary>A Generic Host whose one endpoint listens on a loopback port the system picks, and a client of it.</summary>
internal static class LoopbackHost
{
    /// <summary>Builds the host; it starts listening when started.</summary>
    /// <param name="configureServices">Adds the server and what its handlers need.</param>
    /// <param name="logs">Records every log entry, from Trace up, when given.</param>
    public static IHost Build(Action<IServiceCollection> configureServices, RecordingLoggerProvider? logs = null)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Sockeye:Endpoints:Main:Url"] = "tcp://127.0.0.1:0" });
        if (logs is not null)
        {
            builder.Logging.SetMinimumLevel(LogLevel.Trace).AddProvider(logs);
        }

        configureServices(builder.Services);
        return builder.Build();
    }

    /// <summary>Connects to the started host's endpoint.</summary>
    public static async Task<Socket> ConnectAsync(IHost host)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(host.Services.GetRequiredService<SocketServer>().EndPoints[0], TestContext.Current.CancellationToken);
        return socket;
    }
}
