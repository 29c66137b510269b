namespace Sockeye.Tests;

/// <summary>Per-test deadlines, in milliseconds. Every test declares one; <see cref="ConventionTests"/> checks.</summary>
internal static class Timeouts
{
    /// <summary>In-memory tests: no network, no processes.</summary>
    public const int Fast = 10_000;

    /// <summary>Loopback socket tests.</summary>
    public const int Network = 30_000;

    /// <summary>Tests that start the tool as a process (a cold .NET start is a second or two).</summary>
    public const int Process = 60_000;

    /// <summary>Load tests: thousands of connections or hundreds of MiB.</summary>
    public const int Load = 120_000;
}
