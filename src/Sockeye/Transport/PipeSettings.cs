namespace Sockeye.Transport;

/// <summary>
/// What every connection's input (or every connection's output) of one server shares: the pool, the
/// backpressure thresholds (resume at half the pause), and where continuations run. One object per server instead
/// of four fields per pipe.
/// </summary>
internal sealed class PipeSettings(PinnedBlockMemoryPool pool, long pauseThreshold, bool inlineContinuations)
{
    public PinnedBlockMemoryPool Pool { get; } = pool;

    public long PauseThreshold { get; } = pauseThreshold;

    public long ResumeThreshold { get; } = pauseThreshold / 2;

    public bool InlineContinuations { get; } = inlineContinuations;
}
