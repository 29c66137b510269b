using System.Diagnostics;
using System.Runtime.CompilerServices;
using HdrHistogram;

namespace Sockeye.Cli.Bench;

/// <summary>
/// What one event loop counted. Written only by the loop's thread, so the hot path needs no atomics; the
/// progress display reads the counters from another thread, where a value a moment old is fine.
/// </summary>
internal sealed class LoopStats
{
    // Anything slower than a minute is recorded as a minute (and a clock that steps back as 0): the histogram must never
    // throw on the hot path.
    private static readonly long s_highestLatency = Stopwatch.Frequency * 60;

    private readonly List<string> _errorSamples = [];
    private long _messages;
    private long _bytesReceived;
    private long _bytesSent;
    private long _connects;
    private long _connectFailures;
    private long _errors;
    private long _open;
    private long _ready;

    public LongHistogram Latency { get; } = new(s_highestLatency, 3);

    /// <summary>The counters when the loop saw measuring begin, and when it saw it end.</summary>
    public LoopSnapshot? MeasureStart { get; set; }

    public LoopSnapshot? MeasureEnd { get; set; }

    /// <summary>Bytes this loop's thread allocated while measuring.</summary>
    public long AllocatedWhileMeasuring { get; set; }

    public IReadOnlyList<string> ErrorSamples => _errorSamples;

    public long Messages => Volatile.Read(ref _messages);

    public long Errors => Volatile.Read(ref _errors);

    /// <summary>Connections connected now.</summary>
    public long Open => Volatile.Read(ref _open);

    /// <summary>Connections that completed a connect.</summary>
    public long Connects => Volatile.Read(ref _connects);

    /// <summary>Connects that failed or timed out.</summary>
    public long ConnectFailures => Volatile.Read(ref _connectFailures);

    /// <summary>Idle connections whose first exchange is done.</summary>
    public long Ready => Volatile.Read(ref _ready);

    public long BytesReceived => Volatile.Read(ref _bytesReceived);

    public long BytesSent => Volatile.Read(ref _bytesSent);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Message(long latencyTicks, bool record)
    {
        _messages++;
        if (record)
        {
            Latency.RecordValue(Math.Clamp(latencyTicks, 0, s_highestLatency));
        }
    }

    public void Received(long bytes) => _bytesReceived += bytes;

    public void Sent(long bytes) => _bytesSent += bytes;

    public void Connected()
    {
        _connects++;
        _open++;
    }

    public void ConnectFailed() => _connectFailures++;

    public void Closed() => _open--;

    public void BecameReady() => _ready++;

    public void Error(string message)
    {
        _errors++;

        // A few distinct samples say what went wrong; thousands of the same line say nothing more.
        if (_errorSamples.Count < 5 && !_errorSamples.Contains(message))
        {
            _errorSamples.Add(message);
        }
    }

    public LoopSnapshot Snapshot() =>
        new(Stopwatch.GetTimestamp(), _messages, _bytesReceived, _bytesSent, _connects, _errors);
}

/// <summary>A loop's counters at one moment, taken on the loop's own thread.</summary>
internal readonly record struct LoopSnapshot(long Timestamp, long Messages, long BytesReceived, long BytesSent, long Connects, long Errors);
