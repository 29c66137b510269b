namespace Sockeye.Cli;

/// <summary>
/// When a writer's thread last got bytes into its stream, so that closing it can tell a slow reader (which takes bytes
/// now and then: wait for it) from one that takes none (a pipe nobody reads: a write(2) that never returns, which
/// nothing can interrupt). Closing waits while the stream takes bytes, and gives up once it has taken none for the
/// stall limit; the thread, stuck in its write, is left behind (it is a background thread: it does not keep the process).
/// </summary>
internal sealed class WriteProgress(TimeProvider timeProvider)
{
    /// <summary>How long a close waits for a stream that takes nothing before it gives up.</summary>
    public static readonly TimeSpan StallLimit = TimeSpan.FromSeconds(2);

    private long _last = timeProvider.GetTimestamp();

    /// <summary>The stream has taken bytes.</summary>
    public void Mark() => Volatile.Write(ref _last, timeProvider.GetTimestamp());

    /// <summary>
    /// Waits for <paramref name="written"/> while the stream takes bytes: from now, until it has taken none for
    /// <see cref="StallLimit"/>, or until <paramref name="abort"/> is canceled.
    /// </summary>
    /// <returns>Whether <paramref name="written"/> completed; false when the wait gave up.</returns>
    public async Task<bool> WaitAsync(Task written, CancellationToken abort)
    {
        Mark();
        while (!written.IsCompleted)
        {
            var idle = timeProvider.GetElapsedTime(Volatile.Read(ref _last));
            if (idle >= StallLimit || abort.IsCancellationRequested)
            {
                return false;
            }

            await Task.WhenAny(written, Task.Delay(StallLimit - idle, timeProvider, abort)).ConfigureAwait(false);
        }

        return true;
    }
}
