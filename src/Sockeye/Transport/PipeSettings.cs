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

    /// <summary>
    /// Completes a pipe's pending operation (its <see cref="IThreadPoolWorkItem.Execute"/>), here when continuations
    /// run inline, otherwise on the thread pool. Call it outside the pipe's lock.
    /// </summary>
    public void Complete(IThreadPoolWorkItem pipe)
    {
        if (InlineContinuations)
        {
            pipe.Execute();
        }
        else
        {
            ThreadPool.UnsafeQueueUserWorkItem(pipe, preferLocal: false);
        }
    }
}
