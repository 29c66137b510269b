namespace Sockeye.Transport;

/// <summary>
/// A <see cref="ConnectionInput"/> for a transport that fills it from an async receive loop (the portable transport,
/// TLS): when <see cref="ConnectionInput.Commit"/> says the handler holds the receive buffer's worth, the loop awaits
/// <see cref="WaitWhilePausedAsync"/> until the handler consumes half of it, stops reading, or the gate is closed.
/// </summary>
internal sealed class InputGate : IInputTransport
{
    // Set while the loop waits; whoever ends the wait takes it.
    private TaskCompletionSource? _resumed;
    private volatile bool _closed;

    public InputGate(PipeSettings settings) => Input = new ConnectionInput(settings, this);

    public ConnectionInput Input { get; }

    /// <summary>The loop is to stop: a wait ends now, and none starts again.</summary>
    public bool IsClosed => _closed;

    /// <summary>Waits until the input is no longer paused, its reader has completed, or the gate is closed.</summary>
    public Task WaitWhilePausedAsync()
    {
        // Published before the checks, so that whatever ends the pause after them finds it to complete.
        var resumed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Interlocked.Exchange(ref _resumed, resumed);
        if (!Input.IsPaused || Input.IsReaderCompleted || _closed)
        {
            Wake();
        }

        return resumed.Task;
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
