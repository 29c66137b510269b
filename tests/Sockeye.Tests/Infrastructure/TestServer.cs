using System.Net;
using Microsoft.Extensions.Logging;

namespace Sockeye.Tests.Infrastructure;

/// <summary>A <see cref="SocketServer"/> on 127.0.0.1 port 0, stopped when disposed.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    private TestServer(SocketServer server, RecordingLoggerProvider logs)
    {
        Server = server;
        Logs = logs;
        EndPoint = (IPEndPoint)server.EndPoints[0];
    }

    public SocketServer Server { get; }

    public IPEndPoint EndPoint { get; }

    public RecordingLoggerProvider Logs { get; }

    public static Task<TestServer> StartAsync(Func<Connection, Task> handler, Action<SocketServerOptions>? configure = null, TimeProvider? timeProvider = null) =>
        StartAsync(ConnectionHandler.Create(handler), configure, timeProvider);

    public static async Task<TestServer> StartAsync(ConnectionHandler handler, Action<SocketServerOptions>? configure = null, TimeProvider? timeProvider = null)
    {
        var options = new SocketServerOptions();
        options.Listen(IPAddress.Loopback, 0);
        configure?.Invoke(options);
        var logs = new RecordingLoggerProvider();
        var loggerFactory = LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Trace).AddProvider(logs));
        var server = new SocketServer(options, handler, loggerFactory, timeProvider);
        await server.StartAsync(TestContext.Current.CancellationToken);
        return new TestServer(server, logs);
    }

    public Task<TestClient> ConnectAsync() => TestClient.ConnectAsync(EndPoint);

    public ValueTask DisposeAsync() => Server.DisposeAsync();
}
