using System.CommandLine;
using System.Globalization;

namespace Sockeye.Cli;

/// <summary>
/// <c>serve</c>'s limits and timeouts: one flag per <see cref="SocketServerOptions"/> limit, each defaulting to the
/// library's default (safe for untrusted clients) and showing it in <c>--help</c>, and each setting the configuration
/// key of that limit, so a flag overrides <c>appsettings.json</c> and the environment.
/// </summary>
internal sealed class ServeLimits
{
    private static readonly SocketServerOptions s_defaults = new();

    private readonly Option<int> _maxConnections = new("--max-connections")
    {
        Description = "The most connections open at once; more are closed at once, without data. 0 means no limit.",
        DefaultValueFactory = _ => s_defaults.MaxConnections ?? 0,
        HelpName = "N",
        CustomParser = result =>
        {
            var text = result.Tokens[^1].Value;
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                return value;
            }

            result.AddError($"--max-connections must be a whole number, 0 for no limit, not '{text}'.");
            return 0;
        },
    };

    private readonly Option<double> _idleTimeout = CommonOptions.Seconds(
        "--idle-timeout", "End a connection on which no byte has moved either way for this long.",
        s_defaults.IdleTimeout.TotalSeconds, ZeroSeconds.Off);

    private readonly Option<double> _minDataRate = new("--min-data-rate")
    {
        Description = "Once a client has begun a message, the least it must send until the message is complete, " +
            "or it is ended as a slow client (the slowloris defence). 0 turns it off.",
        DefaultValueFactory = _ => s_defaults.MinDataRate,
        HelpName = "BYTES_PER_SECOND",
        CustomParser = result =>
        {
            var text = result.Tokens[^1].Value;
            if (double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value))
            {
                return value;
            }

            result.AddError($"--min-data-rate must be a number of bytes per second, 0 to turn it off, not '{text}'.");
            return 0;
        },
    };

    private readonly Option<double> _minDataRateGrace = CommonOptions.Seconds(
        "--min-data-rate-grace", "How long a message may take before --min-data-rate applies.",
        s_defaults.MinDataRateGracePeriod.TotalSeconds, ZeroSeconds.Immediately);

    private readonly Option<ByteSize> _maxReceiveBuffer = CommonOptions.ByteSize(
        "--max-receive-buffer", "Received bytes held per connection before reading pauses until the handler catches up " +
        "(always at least the maximum message size plus 4KiB).",
        s_defaults.MaxReceiveBufferSize);

    private readonly Option<ByteSize> _maxSendBuffer = CommonOptions.ByteSize(
        "--max-send-buffer", "Bytes a handler may write ahead of the client before its writes wait.",
        s_defaults.MaxSendBufferSize);

    private readonly Option<ByteSize> _maxOutboundQueue = CommonOptions.ByteSize(
        "--max-outbound-queue", "Bytes pushed to a connection (by relay, say) and not yet taken by its client, beyond its send buffer; " +
        "a send that would go over follows --outbound-queue-policy.",
        s_defaults.MaxOutboundQueueSize);

    private readonly Option<OutboundQueuePolicy> _outboundQueuePolicy = new("--outbound-queue-policy")
    {
        Description = "What a push to a connection whose outbound queue is full does: disconnect ends the connection as a slow " +
            "reader, drop-newest drops the message, wait makes the sender wait for room.",
        DefaultValueFactory = _ => s_defaults.OutboundQueuePolicy,
        HelpName = "disconnect|drop-newest|wait",
        CustomParser = result =>
        {
            var text = result.Tokens[^1].Value;
            foreach (var policy in Enum.GetValues<OutboundQueuePolicy>())
            {
                if (text.Equals(PolicyName(policy), StringComparison.OrdinalIgnoreCase) || text.Equals(policy.ToString(), StringComparison.OrdinalIgnoreCase))
                {
                    return policy;
                }
            }

            result.AddError($"--outbound-queue-policy must be disconnect, drop-newest or wait, not '{text}'.");
            return default;
        },
    };

    private readonly Option<double> _writeTimeout = CommonOptions.Seconds(
        "--write-timeout", "End a connection whose client has taken no bytes of a send for this long (a client that stops reading).",
        s_defaults.WriteTimeout.TotalSeconds, ZeroSeconds.Off);

    private readonly Option<double> _slowReaderGrace = CommonOptions.Seconds(
        "--slow-reader-grace", "With --outbound-queue-policy disconnect, how long a push to a full queue waits for its client to " +
        "make room (slowing the sender to the client's pace) before the client is ended as a slow reader.",
        s_defaults.SlowReaderGrace.TotalSeconds, ZeroSeconds.Immediately);

    private readonly Option<double> _drainTimeout = CommonOptions.Seconds(
        "--drain-timeout", "On SIGTERM or Ctrl+C, how long connections get to finish before they are aborted.",
        s_defaults.ShutdownTimeout.TotalSeconds, ZeroSeconds.Immediately);

    /// <summary>The flags, each as the <see cref="SocketServerOptions"/> setting it sets.</summary>
    public IEnumerable<IConfigBinding> Bindings =>
    [
        ServeSettings.Server(_maxConnections, nameof(SocketServerOptions.MaxConnections), (o, value) => o.MaxConnections = value == 0 ? null : value),
        ServeSettings.Server(_idleTimeout, nameof(SocketServerOptions.IdleTimeout), (o, value) => o.IdleTimeout = OffWhenZero(value)),
        ServeSettings.Server(_minDataRate, nameof(SocketServerOptions.MinDataRate), (o, value) => o.MinDataRate = value),
        ServeSettings.Server(_minDataRateGrace, nameof(SocketServerOptions.MinDataRateGracePeriod), (o, value) => o.MinDataRateGracePeriod = TimeSpan.FromSeconds(value)),
        ServeSettings.Server(_maxReceiveBuffer, nameof(SocketServerOptions.MaxReceiveBufferSize), (o, value) => o.MaxReceiveBufferSize = value.Bytes),
        ServeSettings.Server(_maxSendBuffer, nameof(SocketServerOptions.MaxSendBufferSize), (o, value) => o.MaxSendBufferSize = value.Bytes),
        ServeSettings.Server(_maxOutboundQueue, nameof(SocketServerOptions.MaxOutboundQueueSize), (o, value) => o.MaxOutboundQueueSize = value.Bytes),
        ServeSettings.Server(_outboundQueuePolicy, nameof(SocketServerOptions.OutboundQueuePolicy), (o, value) => o.OutboundQueuePolicy = value),
        ServeSettings.Server(_slowReaderGrace, nameof(SocketServerOptions.SlowReaderGrace), (o, value) => o.SlowReaderGrace = TimeSpan.FromSeconds(value)),
        ServeSettings.Server(_writeTimeout, nameof(SocketServerOptions.WriteTimeout), (o, value) => o.WriteTimeout = OffWhenZero(value)),
        ServeSettings.Server(_drainTimeout, nameof(SocketServerOptions.ShutdownTimeout), (o, value) => o.ShutdownTimeout = TimeSpan.FromSeconds(value)),
    ];

    /// <summary>A policy as the flag spells it: <c>drop-newest</c> for <see cref="OutboundQueuePolicy.DropNewest"/>.</summary>
    private static string PolicyName(OutboundQueuePolicy policy) => policy switch
    {
        OutboundQueuePolicy.DropNewest => "drop-newest",
        _ => policy.ToString().ToLowerInvariant(),
    };

    private static TimeSpan OffWhenZero(double seconds) => seconds == 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds(seconds);
}
