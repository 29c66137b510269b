namespace Sockeye.Cli.Bench;

/// <summary>The workloads <c>sockeye bench</c> runs.</summary>
internal enum BenchWorkload
{
    /// <summary>Long-lived connections, each keeping messages in flight against an echo server.</summary>
    Echo,

    /// <summary>A connection per exchange: connect, send, read until the server closes.</summary>
    OneShot,

    /// <summary>Connections held open and quiet after one exchange.</summary>
    Idle,

    /// <summary>Publishers and subscribers through a relay: every line a publisher sends reaches every subscriber.</summary>
    Broadcast,
}

/// <summary>One run of <c>sockeye bench</c>, as the command line asked for it.</summary>
internal sealed record BenchSettings
{
    public required BenchWorkload Workload { get; init; }

    public required string Host { get; init; }

    public required int Port { get; init; }

    public required int Connections { get; init; }

    /// <summary>Bytes per message (echo, broadcast, with its newline), per request before the delimiter (one-shot), or of the first exchange (idle).</summary>
    public required int Size { get; init; }

    /// <summary>Broadcast: connections that send (the rest of <see cref="Connections"/> are subscribers).</summary>
    public int Publishers { get; init; }

    /// <summary>Broadcast: the share of subscribers that never read.</summary>
    public double NonReaderFraction { get; init; }

    /// <summary>Broadcast: messages a publisher may have beyond what every reading subscriber has received.</summary>
    public int Window { get; init; } = 64;

    /// <summary>Messages in flight per connection (echo).</summary>
    public int Depth { get; init; } = 1;

    /// <summary>One-shot: end the sending side after the request instead of sending the delimiter, and expect no reply.</summary>
    public bool HalfClose { get; init; }

    public string Delimiter { get; init; } = "<EOF>";

    public required TimeSpan Duration { get; init; }

    public required TimeSpan Warmup { get; init; }

    public int Threads { get; init; } = 1;

    /// <summary>Connects under way at once, across all threads.</summary>
    public int ConnectConcurrency { get; init; } = 256;

    /// <summary>The server's process, whose CPU time and memory the report includes (Linux /proc).</summary>
    public int? ServerPid { get; init; }

    public bool Json { get; init; }
}
