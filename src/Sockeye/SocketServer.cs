using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Metrics;
using System.Net;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Sockeye.Diagnostics;
using Sockeye.Transport;

namespace Sockeye;

/// <summary>
/// A TCP server: it listens on one or more endpoints, accepts clients in a loop that never waits on a
/// handler, runs a <see cref="ConnectionHandler"/> for each connection, and stops gracefully.
/// </summary>
/// <example>
/// <code>
/// var options = new SocketServerOptions();
/// options.Listen(IPAddress.Loopback, 5000);
/// await using var server = new SocketServer(options, async connection =>
/// {
///     var result = await connection.Transport.Input.ReadAsync();
///     // ...
/// });
/// await server.StartAsync();
/// </code>
/// </example>
public sealed partial class SocketServer : IAsyncDisposable
{
    // After aborting the connections left at the end of a stop, how long to wait for their handlers to return.
    private static readonly TimeSpan s_abortGrace = TimeSpan.FromSeconds(5);

    private readonly ServerContext _context;
    private readonly ConnectionHandler _handler;
    private readonly ILogger _logger;
    private readonly List<SocketListener> _listeners = [];
    private readonly List<IConnectionListener> _accepting = [];
    private readonly CancellationTokenSource _stopNow = new();
    private readonly Lock _gate = new();
    private ITransport? _transport;
    private bool _started;
    private Task? _stopping;

    /// <summary>Creates a server that runs <paramref name="handler"/> for each connection.</summary>
    /// <param name="options">Endpoints, limits and timeouts.</param>
    /// <param name="handler">The handler for connections whose listener has none of its own.</param>
    /// <param name="loggerFactory">
    /// Where the server logs. By default its warnings and errors (a handler that threw, connections aborted at a stop)
    /// go to standard error, one line each; <c>NullLoggerFactory.Instance</c> turns that off.
    /// </param>
    /// <param name="timeProvider">The clock for every timeout; the system clock by default.</param>
    /// <param name="meterFactory">Creates the <c>Sockeye</c> meter; a meter of the server's own by default.</param>
    public SocketServer(
        SocketServerOptions options,
        ConnectionHandler handler,
        ILoggerFactory? loggerFactory = null,
        TimeProvider? timeProvider = null,
        IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(handler);
        loggerFactory ??= new StandardErrorLoggerFactory();
        _handler = handler;
        _logger = loggerFactory.CreateLogger<SocketServer>();
        _context = new ServerContext(options, loggerFactory, timeProvider ?? TimeProvider.System, meterFactory);
    }

    /// <summary>
    /// Creates a server that runs <paramref name="handler"/> for each connection. Its warnings and errors (a handler
    /// that threw, connections aborted at a stop) go to standard error, one line each; to send them elsewhere, or
    /// nowhere (<c>NullLoggerFactory.Instance</c>), give a logger factory.
    /// </summary>
    /// <param name="options">Endpoints, limits and timeouts.</param>
    /// <param name="handler">The code to run for each connection.</param>
    public SocketServer(SocketServerOptions options, Func<Connection, Task> handler)
        : this(options, ConnectionHandler.Create(handler))
    {
    }

    /// <summary>Creates a server that runs <paramref name="handler"/> for each connection and logs to <paramref name="loggerFactory"/>.</summary>
    /// <param name="options">Endpoints, limits and timeouts.</param>
    /// <param name="handler">The code to run for each connection.</param>
    /// <param name="loggerFactory">Where the server logs; <c>NullLoggerFactory.Instance</c> for nowhere.</param>
    public SocketServer(SocketServerOptions options, Func<Connection, Task> handler, ILoggerFactory loggerFactory)
        : this(options, ConnectionHandler.Create(handler), loggerFactory ?? throw new ArgumentNullException(nameof(loggerFactory)))
    {
    }

    /// <summary>
    /// The endpoints the server is bound to, in the order of <see cref="SocketServerOptions.Listeners"/>,
    /// with the real port where port 0 was asked for. Empty until <see cref="StartAsync"/> has run.
    /// </summary>
    public IReadOnlyList<EndPoint> EndPoints
    {
        get
        {
            lock (_gate)
            {
                return [.. _listeners.Select(listener => listener.EndPoint)];
            }
        }
    }

    /// <summary>
    /// Canceled when the server begins to stop (<see cref="StopAsync"/>). For <see cref="SocketServerOptions.DrainDelay"/>
    /// it then goes on accepting and serving as usual, so a health endpoint can report it draining and load balancers
    /// move new clients elsewhere before the listeners close. Handlers read it as <see cref="Connection.ServerDraining"/>.
    /// </summary>
    public CancellationToken Draining => _context.Draining;

    /// <summary>What the connections share; for tests that look at pools and the registry.</summary>
    internal ServerContext Context => _context;

    /// <summary>The transport the server runs on, once started; for tests that prove which one they ran on.</summary>
    internal TransportKind? TransportKind => _transport?.Kind;

    /// <summary>The number of connections open now.</summary>
    public int ConnectionCount => _context.Connections.Count;

    /// <summary>
    /// The connections whose handlers are running now, to send to or look at from anywhere: enumerating takes no lock and
    /// never holds up accepting. A connection is listed from the moment its handler starts (after any TLS handshake or
    /// PROXY header) until its handler returns or it is aborted; one that starts or ends meanwhile may or may not be seen.
    /// </summary>
    /// <example>
    /// <code>
    /// foreach (var connection in server.Connections)
    /// {
    ///     await connection.SendAsync(notice);
    /// }
    /// </code>
    /// </example>
    public IEnumerable<Connection> Connections
    {
        get
        {
            foreach (var connection in _context.Connections.All)
            {
                if (connection.IsServing && connection.EndReason == ConnectionEndReason.None)
                {
                    yield return connection;
                }
            }
        }
    }

    /// <summary>
    /// Finds the connection with the given <see cref="Connection.Id"/>, in constant time and without a lock, if it is
    /// listed in <see cref="Connections"/>.
    /// </summary>
    /// <param name="id">The connection's id.</param>
    /// <param name="connection">The connection, when found.</param>
    /// <returns><see langword="true"/> if the connection's handler is running now.</returns>
    public bool TryGetConnection(long id, [NotNullWhen(true)] out Connection? connection)
    {
        var found = _context.Connections.Find(id);
        if (found is not null && found.IsServing && found.EndReason == ConnectionEndReason.None)
        {
            connection = found;
            return true;
        }

        connection = null;
        return false;
    }

    /// <summary>Binds every endpoint and starts accepting.</summary>
    /// <param name="cancellationToken">Not used: binding does not wait.</param>
    /// <returns>A task that completes once every endpoint is bound.</returns>
    /// <exception cref="AddressInUseException">An endpoint is in use by another socket.</exception>
    /// <exception cref="IOException">An endpoint could not be bound.</exception>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        var options = _context.Options;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_stopping is not null, this);
            if (_started)
            {
                throw new InvalidOperationException("The server has already started.");
            }

            options.Validate();
            var transportKind = TransportSelection.Resolve(options.Transport);

            // Built before anything is bound, so a layer that cannot be set up (a TLS certificate, say) fails the start.
            var pipelines = options.Listeners.Distinct().ToDictionary(listener => listener, listener => listener.BuildPipeline(_handler, _context));
            try
            {
                foreach (var listenerOptions in options.Listeners)
                {
                    _listeners.AddRange(SocketListener.BindAll(listenerOptions, options.Backlog));
                }
            }
            catch
            {
                // All or nothing: a server that could bind only some endpoints holds none of them.
                foreach (var listener in _listeners)
                {
                    listener.Dispose();
                }

                _listeners.Clear();
                throw;
            }

            _started = true;
            _context.StartHeartbeat();
            _transport = TransportSelection.Create(transportKind, _context);
            foreach (var listener in _listeners)
            {
                Log.Listening(_logger, listener.EndPoint);
                var dispatcher = new ConnectionDispatcher(listener, pipelines[listener.Options], _context, _stopNow.Token);
                _accepting.Add(_transport.StartAccepting(listener, dispatcher));
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Stops gracefully: reports that it is draining (see <see cref="Draining"/>) and goes on serving for
    /// <see cref="SocketServerOptions.DrainDelay"/>, then stops accepting, asks every handler to finish (see
    /// <see cref="Connection.CloseRequested"/>), waits for them up to <see cref="SocketServerOptions.ShutdownTimeout"/>,
    /// and aborts the rest.
    /// </summary>
    /// <param name="cancellationToken">When canceled, the waits end and the remaining connections are aborted at once.</param>
    /// <returns>A task that completes when every connection has ended.</returns>
    public Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (cancellationToken.CanBeCanceled)
        {
            cancellationToken.Register(static state => ((CancellationTokenSource)state!).Cancel(), _stopNow);
        }

        lock (_gate)
        {
            return _stopping ??= StopCoreAsync();
        }
    }

    /// <summary>
    /// For a console program: waits for Ctrl+C or SIGTERM (or <paramref name="cancellationToken"/>), then stops gracefully,
    /// as <see cref="StopAsync"/> does. A second Ctrl+C or SIGTERM while it stops aborts the connections still open. While
    /// it waits, those signals no longer end the process on their own. (Under the Generic Host, Sockeye.Hosting stops the
    /// server when the host stops.)
    /// </summary>
    /// <param name="cancellationToken">Stops the server as a signal would.</param>
    /// <returns>A task that completes when the server has stopped and every connection has ended.</returns>
    /// <example>
    /// <code>
    /// await server.StartAsync();
    /// Console.WriteLine($"Listening on {server.EndPoints[0]}");
    /// await server.WaitForShutdownAsync();
    /// </code>
    /// </example>
    public async Task WaitForShutdownAsync(CancellationToken cancellationToken = default)
    {
        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var abort = new CancellationTokenSource();
        var signals = 0;
        void OnSignal(PosixSignalContext context)
        {
            // The process lives on: it ends when the program returns, after the graceful stop.
            context.Cancel = true;
            if (Interlocked.Increment(ref signals) == 1)
            {
                stop.TrySetResult();
            }
            else
            {
                abort.Cancel();
            }
        }

        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using (cancellationToken.Register(static state => ((TaskCompletionSource)state!).TrySetResult(), stop))
        {
            await stop.Task.ConfigureAwait(false);
        }

        await StopAsync(abort.Token).ConfigureAwait(false);
    }

    /// <summary>Stops the server as <see cref="StopAsync"/> does.</summary>
    /// <returns>A task that completes when every connection has ended.</returns>
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    private async Task StopCoreAsync()
    {
        await DrainAsync().ConfigureAwait(false);

        Task[] accepting;
        bool started;
        lock (_gate)
        {
            // Each accepts what the kernel has queued, then closes its listening socket.
            accepting = [.. _accepting.Select(listener => listener.StopAsync())];
            started = _started;
        }

        await Task.WhenAll(accepting).ConfigureAwait(false);

        // No connection can be added from here on: every accept loop has ended.
        var connections = _context.Connections;
        var emptied = connections.WhenEmptyAsync();
        if (!emptied.IsCompleted)
        {
            var timeout = _context.Options.ShutdownTimeout;
            Log.Stopping(_logger, timeout, connections.Count);

            // The shutdown clock starts before any handler hears of the stop.
            var drained = CompletesWithin(emptied, timeout, _stopNow.Token);
            RequestClose(connections);

            if (!await drained.ConfigureAwait(false))
            {
                Log.AbortingOnShutdown(_logger, connections.Count);
                foreach (var connection in connections.All)
                {
                    connection.Abort(ConnectionEndReason.ServerShutdown);
                }

                if (!await CompletesWithin(emptied, s_abortGrace, CancellationToken.None).ConfigureAwait(false))
                {
                    Log.HandlersIgnoredAbort(_logger, connections.Count, s_abortGrace);
                }
            }
        }

        _transport?.Dispose();
        _context.Dispose();

        // A server that never started (its endpoint was in use, say) has nothing to report as stopped.
        if (started)
        {
            Log.Stopped(_logger);
        }
    }

    /// <summary>
    /// Reports draining, then serves as usual for the drain delay: a load balancer that polls the state (an HAProxy agent
    /// check, a readiness probe) stops sending new clients before the listeners close, so none is caught by the close.
    /// </summary>
    private async Task DrainAsync()
    {
        _context.BeginDraining();
        var delay = _context.Options.DrainDelay;
        bool started;
        lock (_gate)
        {
            started = _started;
        }

        if (started && delay > TimeSpan.Zero)
        {
            Log.Draining(_logger, delay);
            await DelayAsync(delay).ConfigureAwait(false);
        }
    }

    /// <summary>Asks every connection to finish (see <see cref="TransportConnection.RequestCloseWhenReady"/>).</summary>
    private static void RequestClose(ConnectionRegistry connections)
    {
        foreach (var connection in connections.All)
        {
            connection.RequestCloseWhenReady();
        }
    }

    private async Task<bool> CompletesWithin(Task task, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await task.WaitAsync(timeout, _context.TimeProvider, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            return false;
        }
    }

    private async Task<bool> DelayAsync(TimeSpan delay)
    {
        try
        {
            await Task.Delay(delay, _context.TimeProvider, _stopNow.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
