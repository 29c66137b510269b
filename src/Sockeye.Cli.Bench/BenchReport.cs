using System.Text.Json.Serialization;

namespace Sockeye.Cli.Bench;

/// <summary>The result of one run: what <c>--json</c> prints, and what the text summary is made from.</summary>
internal sealed record BenchReport
{
    public required string Workload { get; init; }

    public required string Target { get; init; }

    public required int Connections { get; init; }

    public required int Size { get; init; }

    public int? Depth { get; init; }

    public bool? HalfClose { get; init; }

    public required int Threads { get; init; }

    public required double WarmupSeconds { get; init; }

    public required double DurationSeconds { get; init; }

    /// <summary>How long the measured window really lasted.</summary>
    public required double MeasuredSeconds { get; init; }

    /// <summary>Messages echoed (echo), exchanges completed (one-shot), or first exchanges done (idle), while measuring.</summary>
    public required long Messages { get; init; }

    public required double MessagesPerSecond { get; init; }

    /// <summary>Echoed bytes received per second, in MiB.</summary>
    public required double MebibytesPerSecond { get; init; }

    /// <summary>New connections per second: one-shot exchanges, or the idle workload's ramp.</summary>
    public double? ConnectionsPerSecond { get; init; }

    public LatencyReport? Latency { get; init; }

    /// <summary>Errors over the whole run, warm-up included: refused or reset connections, wrong bytes, timeouts.</summary>
    public required long Errors { get; init; }

    public required IReadOnlyList<string> ErrorSamples { get; init; }

    /// <summary>The most connections open at once.</summary>
    public required long Connected { get; init; }

    public required GeneratorReport Generator { get; init; }

    /// <summary>Broadcast only: who took part, and how the slow consumers fared.</summary>
    public BroadcastReport? Broadcast { get; init; }

    public ServerReport? Server { get; init; }
}

/// <summary>
/// A broadcast run: its publishers and subscribers; of these, the ones that never read, how many of them the server
/// ended and how soon after the publishers began (the first and the last); subscriber and publisher pairs whose first
/// message was not the publisher's first (subscribers the server registered after the publisher began); the window;
/// messages per second to each reading subscriber; and how long the drain took, from the publishers' stop to the last
/// reading subscriber holding every message (or the grace running out, each one still owed messages then an error).
/// </summary>
internal sealed record BroadcastReport(
    int Publishers,
    int Subscribers,
    int NonReaders,
    int NonReadersEnded,
    int LateJoins,
    int Window,
    double MessagesPerSecondPerReader,
    double? NonReadersFirstEndedSeconds = null,
    double? NonReadersLastEndedSeconds = null,
    double? DrainSeconds = null);

/// <summary>Latency percentiles in microseconds.</summary>
internal sealed record LatencyReport(double P50, double P90, double P99, double P999, double Max, double Mean);

/// <summary>
/// What the load generator itself cost while measuring. On loopback most of it is the kernel's TCP work, which
/// any client pays; the user-mode part is the generator's own code.
/// </summary>
internal sealed record GeneratorReport(
    double CpuSeconds, double CpuPercent, double? CpuMicrosecondsPerMessage, double? UserCpuMicrosecondsPerMessage, double? AllocatedBytesPerMessage);

/// <summary>What the server cost while measuring, and its memory (per connection for the idle workload).</summary>
internal sealed record ServerReport
{
    public required int Pid { get; init; }

    public required double CpuSeconds { get; init; }

    public required double CpuPercent { get; init; }

    public double? CpuMicrosecondsPerMessage { get; init; }

    /// <summary>The user-mode part: the server's own code (runtime, transport, handler) rather than the kernel's.</summary>
    public double? UserCpuMicrosecondsPerMessage { get; init; }

    public required long RssBytes { get; init; }

    public long? RssBeforeBytes { get; init; }

    public double? RssPerConnectionBytes { get; init; }

    /// <summary>Broadcast: the most the server held, read every 100 ms while measuring.</summary>
    public long? RssPeakBytes { get; init; }

    public required int Threads { get; init; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = true)]
[JsonSerializable(typeof(BenchReport))]
internal sealed partial class BenchJsonContext : JsonSerializerContext;
