using System.Net;
using Microsoft.Extensions.Logging;
using Sockeye.Handlers;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Diagnostics;

public class LifecycleLogTests
{
    [Fact(Timeout = Timeouts.Network)]
    public async Task A_server_that_never_started_does_not_log_that_it_stopped()
    {
        var logs = new RecordingLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Trace).AddProvider(logs));
        var options = new SocketServerOptions();
        options.Listen(IPAddress.Loopback, 0);
        var server = new SocketServer(options, new EchoHandler(), loggerFactory);

        await server.DisposeAsync();

        Assert.Empty(logs.Records);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_server_that_started_logs_that_it_stopped()
    {
        var server = await TestServer.StartAsync(new EchoHandler());

        await server.DisposeAsync();

        Assert.Contains(server.Logs.Records, record => record.EventId.Id == 3 && record.Message == "Stopped");
    }
}
