namespace Sockeye.Transport;

/// <summary>
/// A <see cref="ConnectionInput"/> for a transport that fills it from an async receive loop (the portable transport,
/// TLS): the loop receives into <see cref="ConnectionInput.GetReceiveMemory"/> and commits through
/// <see cref="CommitAsync"/>, which waits while the handler holds the receive buffer's worth.
/// </summary>
internal sealed class InputGate : IInputTransport
{
    // Set while the loop waits; whoever ends the wait takes it.
    private TaskCompletionSource? _resumed;
    private volatile bool _closed;

    public InputGate(PipeSettings settings) => Input = new ConnectionInput(settings, this);

    public ConnectionInput Input { get; }

    /// <summary>
    /// Makes <paramref name="count"/> received bytes readable and, when the handler then holds the receive buffer's
    /// worth, waits until it consumes half of it or stops reading. <see langword="false"/> when the gate was closed
    /// meanwhile: stop receiving.
    /// </summary>
    public ValueTask<bool> CommitAsync(int count) => Input.Commit(count) ? new ValueTask<bool>(true) : WaitWhilePausedAsync();

    /// <summary>Waits until the input is no longer paused, its reader has completed, or the gate is closed.</summary>
    private async ValueTask<bool> WaitWhilePausedAsync()
    {
        // Published before the checks, so that whatever ends the pause after them finds it to complete.
        var resumed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Interlocked.Exchange(ref _resumed, resumed);
        if (!Input.IsPaused || Input.IsReaderCompleted || _closed)
        {
            Wake();
        }

        await resumed.Task.ConfigureAwait(false);
        return !_closed;
    }

    /// <summary>Ends a wait for good: the connection is going away. Safe from any thread.</summary>
    public void Close()
    {
        _closed = true;
        Wake();
    }

    void IInputTransport.ResumeReceiving() => Wake();

    // The loop checks for a completed reader each time round; one that waits must be woken to see it.
    void IInputTransport.ReaderCompleted() => Wake();

    private void Wake() => Interlocked.Exchange(ref _resumed, null)?.TrySetResult();
}
