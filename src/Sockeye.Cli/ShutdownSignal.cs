using System.Runtime.InteropServices;

namespace Sockeye.Cli;

/// <summary>
/// SIGINT (Ctrl+C) and SIGTERM: the first asks for a graceful stop, the second for an immediate one.
/// </summary>
internal sealed class ShutdownSignal : IDisposable
{
    private readonly TaskCompletionSource _stopRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _abortRequested = new();
    private readonly PosixSignalRegistration[] _registrations;
    private int _signals;

    public ShutdownSignal()
    {
        _registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal),
        ];
    }

    /// <summary>Completes at the first signal.</summary>
    public Task StopRequested => _stopRequested.Task;

    /// <summary>Canceled at the second signal.</summary>
    public CancellationToken AbortRequested => _abortRequested.Token;

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }

        _abortRequested.Dispose();
    }

    private void OnSignal(PosixSignalContext context)
    {
        // Keep the process alive: the command decides when to exit, with code 0.
        context.Cancel = true;
        if (Interlocked.Increment(ref _signals) == 1)
        {
            _stopRequested.TrySetResult();
        }
        else
        {
            _abortRequested.Cancel();
        }
    }
}
