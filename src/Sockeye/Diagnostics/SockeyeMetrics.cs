using System.Diagnostics.Metrics;

namespace Sockeye.Diagnostics;

/// <summary>
/// The instruments of the <c>Sockeye</c> meter. Names follow the OpenTelemetry conventions where they exist
/// (<c>network.io.direction</c>, <c>error.type</c>, seconds for durations, <c>By</c> for bytes) and Kestrel's
/// connection metrics where they do not.
/// </summary>
/// <remarks>
/// Recording costs next to nothing while no listener is attached: each instrument checks that first.
/// </remarks>
internal sealed class SockeyeMetrics : IDisposable
{
    public const string MeterName = "Sockeye";

    private const string EndReasonTag = "sockeye.connection.end_reason";
    private const string DirectionTag = "network.io.direction";

    private static readonly KeyValuePair<string, object?> s_receive = new(DirectionTag, "receive");
    private static readonly KeyValuePair<string, object?> s_transmit = new(DirectionTag, "transmit");

    // Boxed once: tags are recorded on every connection, and a fresh box each time would be garbage.
    private static readonly KeyValuePair<string, object?>[] s_endReasonTags =
        [.. Enum.GetValues<ConnectionEndReason>().Select(reason => new KeyValuePair<string, object?>(EndReasonTag, ToTagValue(reason)))];

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly UpDownCounter<long> _active;
    private readonly Counter<long> _accepted;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _ended;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _bytes;
    private readonly Counter<long> _messages;
    private readonly UpDownCounter<long> _outboundQueued;
    private readonly Counter<long> _outboundDropped;
    private readonly Counter<long> _slowConsumers;

    public SockeyeMetrics(IMeterFactory? meterFactory)
    {
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _active = _meter.CreateUpDownCounter<long>(
            "sockeye.active_connections", "{connection}", "Connections open now.");
        _accepted = _meter.CreateCounter<long>(
            "sockeye.accepted_connections", "{connection}", "Connections accepted.");
        _rejected = _meter.CreateCounter<long>(
            "sockeye.rejected_connections", "{connection}", "Connections closed at once without being served, by reason.");
        _ended = _meter.CreateCounter<long>(
            "sockeye.ended_connections", "{connection}", "Connections ended, by end reason.");
        _duration = _meter.CreateHistogram<double>(
            "sockeye.connection.duration", "s", "How long connections lasted, by end reason.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800, 3600] });
        _bytes = _meter.CreateCounter<long>(
            "sockeye.io", "By", "Bytes received from and sent to clients.");
        _messages = _meter.CreateCounter<long>(
            "sockeye.messages", "{message}", "Whole messages received from and sent to clients.");
        _outboundQueued = _meter.CreateUpDownCounter<long>(
            "sockeye.outbound.queued_bytes", "By", "Bytes pushed to connections and waiting in their outbound queues.");
        _outboundDropped = _meter.CreateCounter<long>(
            "sockeye.outbound.dropped_messages", "{message}", "Pushed messages dropped because a connection's outbound queue was full (DropNewest).");
        _slowConsumers = _meter.CreateCounter<long>(
            "sockeye.outbound.slow_consumer_disconnects", "{connection}", "Connections ended because their outbound queue overflowed (Disconnect).");
    }

    /// <summary>The meter the instruments belong to.</summary>
    public Meter Meter => _meter;

    public void ConnectionAccepted()
    {
        _accepted.Add(1);
        _active.Add(1);
    }

    public void ConnectionRejected(ConnectionEndReason reason) => _rejected.Add(1, s_endReasonTags[(int)reason]);

    public void ConnectionEnded(ConnectionEndReason reason, TimeSpan duration)
    {
        var tag = s_endReasonTags[(int)reason];
        _active.Add(-1);
        _ended.Add(1, tag);
        if (_duration.Enabled)
        {
            _duration.Record(duration.TotalSeconds, tag);
        }
    }

    // Called for every receive, send and message: with nobody listening, one check instead of building the tag list.

    public void BytesReceived(long count)
    {
        if (_bytes.Enabled)
        {
            _bytes.Add(count, s_receive);
        }
    }

    public void BytesSent(long count)
    {
        if (_bytes.Enabled)
        {
            _bytes.Add(count, s_transmit);
        }
    }

    public void MessageReceived()
    {
        if (_messages.Enabled)
        {
            _messages.Add(1, s_receive);
        }
    }

    public void MessageSent()
    {
        if (_messages.Enabled)
        {
            _messages.Add(1, s_transmit);
        }
    }

    public void MessagesSent(int count)
    {
        if (_messages.Enabled)
        {
            _messages.Add(count, s_transmit);
        }
    }

    /// <summary>Bytes entered (positive) or left (negative) connections' outbound queues.</summary>
    /// <remarks>Called for every member of every broadcast: with nobody listening it costs one check.</remarks>
    public void OutboundQueued(long bytes)
    {
        if (_outboundQueued.Enabled)
        {
            _outboundQueued.Add(bytes);
        }
    }

    public void OutboundDropped() => _outboundDropped.Add(1);

    public void SlowConsumerDisconnected() => _slowConsumers.Add(1);

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    /// <summary><c>ConnectionReset</c> becomes <c>connection_reset</c>, as OpenTelemetry attribute values are written.</summary>
    internal static string ToTagValue(ConnectionEndReason reason)
    {
        var name = reason.ToString();
        var builder = new System.Text.StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0)
            {
                builder.Append('_');
            }

            builder.Append(char.ToLowerInvariant(name[i]));
        }

        return builder.ToString();
    }
}
