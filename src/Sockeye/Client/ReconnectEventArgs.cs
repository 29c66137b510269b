// Public, so in the root namespace beside SocketClient; the folder keeps the client's files together.
namespace Sockeye;

/// <summary>
/// A reconnect attempt of a <see cref="SocketClient"/>: <see cref="SocketClient.Reconnecting"/> before each,
/// <see cref="SocketClient.Reconnected"/> after the one that succeeded.
/// </summary>
public sealed class ReconnectEventArgs : EventArgs
{
    /// <summary>Creates the arguments.</summary>
    /// <param name="attempt">The attempt's number, from 1.</param>
    /// <param name="delay">The wait before it.</param>
    /// <param name="exception">Why the client is reconnecting: the error that lost the connection, or that failed the attempt before.</param>
    public ReconnectEventArgs(int attempt, TimeSpan delay, Exception exception)
    {
        Attempt = attempt;
        Delay = delay;
        Exception = exception;
    }

    /// <summary>The attempt's number, from 1 to <see cref="ReconnectOptions.MaxAttempts"/>.</summary>
    public int Attempt { get; }

    /// <summary>How long the client waits before this attempt (the backoff, with its jitter).</summary>
    public TimeSpan Delay { get; }

    /// <summary>
    /// Why: for the first attempt, the error that lost the connection (an <see cref="IOException"/> saying the server
    /// closed it, when it closed cleanly); for the others, the error that failed the attempt before.
    /// </summary>
    public Exception Exception { get; }
}
