using System.Diagnostics.Metrics;
using System.IO.Pipelines;
using System.Net;
using Microsoft.Extensions.Logging;
using Sockeye.Diagnostics;
using Sockeye.Messaging;

namespace Sockeye.Transport;

/// <summary>What every connection of one server shares: options, pools, pipe settings, logging and time.</summary>
internal sealed class ServerContext : IDisposable
{
    // Never disposed: it has no timer to free, and its token must stay readable for as long as anyone holds it.
    private readonly CancellationTokenSource _draining = new();
    private long _lastConnectionId;
    private int _atConnectionLimit;

    public ServerContext(SocketServerOptions options, ILoggerFactory loggerFactory, TimeProvider timeProvider, IMeterFactory? meterFactory)
    {
        Options = options;
        TimeProvider = timeProvider;
        Draining = _draining.Token;
        Metrics = new SockeyeMetrics(meterFactory);
        ServerLogger = loggerFactory.CreateLogger<SocketServer>();
        ConnectionLogger = loggerFactory.CreateLogger("Sockeye.Connection");
        PushSettings = new PushSettings(options, Metrics, ConnectionLogger, timeProvider);

        // Standard error's one-line default shows no scopes: a scope per connection would cost each one for nothing.
        ConnectionLogScopes = options.ConnectionLogScope && loggerFactory is not StandardErrorLoggerFactory;

        // The handler's side of each pipe runs on the thread pool unless inline scheduling is asked for; the
        // transport's side always runs inline, on the socket's completion. For the output that means on the flushing
        // thread too: a flush hands its bytes to the socket before it returns (when the socket has room), as the epoll
        // transport's does, so a fault or an abort right behind it still sends them before the reset
        // (ClientSeesTheEndTests); a send loop woken on the thread pool would race the abort and lose them.
        var applicationScheduler = options.InlineScheduling ? PipeScheduler.Inline : PipeScheduler.ThreadPool;
        var receiveLimit = options.EffectiveReceiveBufferSize;
        InputSettings = new PipeSettings(MemoryPool, receiveLimit, options.InlineScheduling);
        OutputPipeOptions = new PipeOptions(
            MemoryPool,
            readerScheduler: PipeScheduler.Inline,
            writerScheduler: applicationScheduler,
            pauseWriterThreshold: options.MaxSendBufferSize,
            resumeWriterThreshold: options.MaxSendBufferSize / 2,
            minimumSegmentSize: MemoryPool.MaxBufferSize,
            useSynchronizationContext: false);
    }

    public SocketServerOptions Options { get; }

    public TimeProvider TimeProvider { get; }

    public ILogger ConnectionLogger { get; }

    public ILogger ServerLogger { get; }

    /// <summary>Each connection's log lines carry its id in a scope (<see cref="SocketServerOptions.ConnectionLogScope"/>, where the logger shows scopes).</summary>
    public bool ConnectionLogScopes { get; }

    public SockeyeMetrics Metrics { get; }

    /// <summary>What connections' push queues share: the bound, the policy, metrics and logs.</summary>
    public PushSettings PushSettings { get; }

    public PinnedBlockMemoryPool MemoryPool { get; } = new();

    /// <summary>What every connection's <see cref="ConnectionInput"/> shares: the pool, the receive limit, where reads complete.</summary>
    public PipeSettings InputSettings { get; }

    public PipeOptions OutputPipeOptions { get; }

    public ConnectionRegistry Connections { get; } = new();

    /// <summary>Canceled when the server begins to stop; see <see cref="SocketServer.Draining"/>.</summary>
    public CancellationToken Draining { get; }

    private Heartbeat? _heartbeat;

    public long NextConnectionId() => Interlocked.Increment(ref _lastConnectionId);

    /// <summary>The heartbeat's count: the clock timeouts are measured in, one tick a second.</summary>
    public int CurrentBeat => _heartbeat?.Beats ?? 0;

    /// <summary>Takes a place for a new connection, unless the server is at its connection limit.</summary>
    public bool TryAdmit()
    {
        if (!Connections.TryReserve(Options.MaxConnections))
        {
            return false;
        }

        if (Volatile.Read(ref _atConnectionLimit) != 0)
        {
            Volatile.Write(ref _atConnectionLimit, 0);
        }

        return true;
    }

    /// <summary>Counts and logs a client closed at once, without data. The caller closes its socket.</summary>
    public void Refuse(ConnectionEndReason reason, Func<EndPoint?> remoteEndPoint)
    {
        Metrics.ConnectionRejected(reason);

        // Warn once per time the limit is reached, not once per refused client: a flood must not flood the log.
        if (reason == ConnectionEndReason.ConnectionLimit && Interlocked.Exchange(ref _atConnectionLimit, 1) == 0)
        {
            Log.ConnectionLimitReached(ServerLogger, Options.MaxConnections ?? 0);
        }

        if (ServerLogger.IsEnabled(LogLevel.Debug))
        {
            var remote = remoteEndPoint();
            Log.ConnectionRejected(ServerLogger, remote, reason);
        }
    }

    /// <summary>Cancels <see cref="Draining"/>.</summary>
    public void BeginDraining()
    {
        if (!_draining.IsCancellationRequested)
        {
            // The token reads as canceled at once; callbacks registered by user code run on the thread pool, never
            // inside the stop that fired them (an exception from one stays in the task, which nothing awaits).
            _ = _draining.CancelAsync();
        }
    }

    /// <summary>Starts enforcing timeouts, unless every one of them is off.</summary>
    public void StartHeartbeat()
    {
        var options = Options;
        var anyTimeout = options.IdleTimeout != Timeout.InfiniteTimeSpan
            || options.WriteTimeout != Timeout.InfiniteTimeSpan
            || options.MinDataRate > 0
            || options.LingerTimeout > TimeSpan.Zero; // an infinite linger (-1 ms) needs no heartbeat
        if (anyTimeout)
        {
            _heartbeat = new Heartbeat(Connections, TimeProvider, ConnectionLogger);
        }
    }

    public void Dispose()
    {
        _heartbeat?.Dispose();
        MemoryPool.Dispose();
        Metrics.Dispose();
    }
}
