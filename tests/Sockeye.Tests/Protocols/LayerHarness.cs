using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Sockeye.Tests.Infrastructure;
using Sockeye.Transport;

namespace Sockeye.Tests.Protocols;

/// <summary>A listener's layers around a handler, run over in-memory connections with a fake clock and recorded logs.</summary>
internal sealed class LayerHarness : IDisposable
{
    private readonly ILoggerFactory _loggerFactory;

    public LayerHarness(Action<ListenerOptions> configure)
    {
        _loggerFactory = LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Trace).AddProvider(Logs));
        var options = new SocketServerOptions();
        Listener = options.Listen(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        configure(Listener);
        options.Validate();
        Context = new ServerContext(options, _loggerFactory, Time, meterFactory: null);
    }

    public FakeTimeProvider Time { get; } = new();

    public RecordingLoggerProvider Logs { get; } = new();

    public ServerContext Context { get; }

    public ListenerOptions Listener { get; }

    /// <summary>How many times the handler has been entered.</summary>
    public int HandlerRuns => Volatile.Read(ref _handlerRuns);

    private int _handlerRuns;

    /// <summary>Runs the listener's pipeline around <paramref name="handler"/> on <paramref name="connection"/>.</summary>
    public Task RunAsync(InMemoryConnection connection, Func<Connection, Task> handler)
    {
        var pipeline = Listener.BuildPipeline(ConnectionHandler.Create(async c =>
        {
            Interlocked.Increment(ref _handlerRuns);
            await handler(c);
        }), Context);
        return connection.RunAsync(ConnectionHandler.Create(c => pipeline(c)));
    }

    /// <summary>
    /// Runs the pipeline with the client silent, and checks that it ends exactly when <paramref name="deadline"/> has
    /// passed on the fake clock, not a tenth of a second earlier.
    /// </summary>
    public async Task RunUntilDeadlineAsync(InMemoryConnection connection, TimeSpan deadline)
    {
        var run = RunAsync(connection, _ => Task.CompletedTask);
        Time.Advance(deadline - TimeSpan.FromSeconds(0.1));
        Assert.False(run.IsCompleted);
        Time.Advance(TimeSpan.FromSeconds(0.1));
        await run.WithTestTimeout();
    }

    public void Dispose()
    {
        Context.Dispose();
        _loggerFactory.Dispose();
    }
}
