using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Sockeye.Diagnostics;

namespace Sockeye.Messaging;

/// <summary>What every connection's push queue of one server shares: the bound, the policy, and where it reports.</summary>
internal sealed class PushSettings
{
    public PushSettings(SocketServerOptions options, SockeyeMetrics? metrics, ILogger? logger, TimeProvider? timeProvider = null)
    {
        MaxQueueSize = options.MaxOutboundQueueSize;
        Policy = options.OutboundQueuePolicy;
        SlowReaderGrace = options.SlowReaderGrace;
        TimeProvider = timeProvider ?? TimeProvider.System;

        // One drain moves at most a send buffer's worth into the output, so what waits in the output stays within about
        // twice its own bound, and the rest waits in the queue, where the queue's bound applies.
        BatchSize = options.MaxSendBufferSize;
        Metrics = metrics;
        Logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The defaults, for connections that belong to no server.</summary>
    public static PushSettings Default { get; } = new(new SocketServerOptions(), metrics: null, logger: null);

    public long MaxQueueSize { get; }

    public OutboundQueuePolicy Policy { get; }

    /// <summary>How long a send waits for room under <see cref="OutboundQueuePolicy.Disconnect"/> before the connection is ended.</summary>
    public TimeSpan SlowReaderGrace { get; }

    /// <summary>The clock of that wait.</summary>
    public TimeProvider TimeProvider { get; }

    public long BatchSize { get; }

    public SockeyeMetrics? Metrics { get; }

    public ILogger Logger { get; }
}
