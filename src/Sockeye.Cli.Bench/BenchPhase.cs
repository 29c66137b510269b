namespace Sockeye.Cli.Bench;

/// <summary>Where a run is; the driver moves it forward and every event loop follows.</summary>
internal enum BenchPhase
{
    /// <summary>Connections are being opened; traffic starts on each as soon as it is connected.</summary>
    Connecting,

    /// <summary>Traffic flows, but nothing is counted: JIT, pools and caches settle on both sides.</summary>
    WarmingUp,

    /// <summary>Traffic is counted and latencies recorded.</summary>
    Measuring,

    /// <summary>No new messages or connections; those under way finish, then connections close.</summary>
    Draining,

    /// <summary>Everything still open is closed at once.</summary>
    Stopped,
}

/// <summary>The phase, shared by the driver (which writes it) and the event loops (which poll it).</summary>
internal sealed class BenchControl
{
    private int _phase;

    public BenchPhase Phase => (BenchPhase)Volatile.Read(ref _phase);

    public void Enter(BenchPhase phase) => Volatile.Write(ref _phase, (int)phase);
}
