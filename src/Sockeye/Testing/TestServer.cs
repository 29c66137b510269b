using Microsoft.Extensions.Logging;

namespace Sockeye.Testing;

/// <summary>
/// A real <see cref="SocketServer"/> and handler, fed in-memory connections instead of sockets: open as many clients as a
/// test needs with <see cref="Connect"/>, each a <see cref="TestConnection"/>. Everything the server does applies to
/// them: its registry (<see cref="SocketServer.Connections"/>, <see cref="SocketServer.TryGetConnection"/>), pushes and
/// groups, limits and timeouts on the clock given (with <c>FakeTimeProvider</c> a test advances time instead of waiting),
/// metrics and logs. Each client's receive window is bounded, so one that does not read pushes back on the server as a
/// socket's would.
/// </summary>
/// <example>
/// <code>
/// await using var server = TestServer.Start(new ChatHandler(rooms));
/// await using var alice = server.Connect();
/// await using var bob = server.Connect();
/// await alice.SendAsync("hello\n");
/// Assert.Equal("alice: hello\n", Encoding.UTF8.GetString(await bob.ReceiveAsync(13)));
/// </code>
/// </example>
public sealed class TestServer : IAsyncDisposable
{
    private TestServer(SocketServer server) => Server = server;

    /// <summary>The server: look connections up, send to them, read its draining state.</summary>
    public SocketServer Server { get; }

    /// <summary>Starts a server that runs <paramref name="handler"/> for each connection <see cref="Connect"/> opens.</summary>
    /// <param name="handler">The handler under test.</param>
    /// <param name="options">Limits and timeouts; listeners are ignored. The defaults when <see langword="null"/>.</param>
    /// <param name="timeProvider">The clock for every timeout; the system clock when <see langword="null"/>.</param>
    /// <param name="loggerFactory">Where the server logs; nowhere when <see langword="null"/>.</param>
    /// <returns>The running server; dispose it to stop it.</returns>
    public static TestServer Start(
        ConnectionHandler handler, SocketServerOptions? options = null, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var server = new SocketServer(
            options ?? new SocketServerOptions(),
            ConnectionHandler.Create(connection => ServeAsync(handler, connection)),
            loggerFactory ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance,
            timeProvider);
        server.StartInMemory();
        return new TestServer(server);
    }

    /// <summary>Opens a new client connection; its handler has started when this returns.</summary>
    /// <returns>The client's end of the connection.</returns>
    /// <exception cref="InvalidOperationException">The server is at its connection limit, or stopping.</exception>
    public TestConnection Connect() => new(this, Server.AcceptInMemory());

    /// <summary>
    /// Stops the server as <see cref="SocketServer.StopAsync"/> does: reports draining for the drain delay, asks every
    /// handler to finish, waits up to the shutdown timeout (on the server's clock), and aborts the rest.
    /// </summary>
    /// <returns>A task that completes when every connection has ended.</returns>
    public Task StopAsync() => Server.StopAsync();

    /// <summary>Stops the server at once: what is still open is aborted.</summary>
    /// <returns>A task that completes when every connection has ended.</returns>
    public async ValueTask DisposeAsync() => await Server.StopAsync(new CancellationToken(canceled: true)).ConfigureAwait(false);

    private static async Task ServeAsync(ConnectionHandler handler, Connection connection)
    {
        try
        {
            await handler.OnConnectedAsync(connection).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The server logs it and ends the connection; the test may want to look at it too.
            ((InMemoryServerConnection)connection).HandlerException = ex;
            throw;
        }
    }
}
