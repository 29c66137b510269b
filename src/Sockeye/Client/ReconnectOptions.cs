// Public, so in the root namespace beside SocketClientOptions; the folder keeps the client's files together.
namespace Sockeye;

/// <summary>
/// How a <see cref="SocketClient"/> reconnects when its connection is lost (set
/// <see cref="SocketClientOptions.Reconnect"/>): up to <see cref="MaxAttempts"/> attempts, waiting before each an
/// exponentially growing delay, randomized by <see cref="Jitter"/> so that clients cut off together by a server's
/// restart do not all come back at the same instant.
/// </summary>
/// <remarks>
/// The delay before attempt <c>n</c> (from 1) is <c>min(MaxDelay, InitialDelay × 2^(n−1))</c>, less a random part of
/// up to <see cref="Jitter"/> of it. Attempts restart from 1 after each successful reconnect.
/// </remarks>
public sealed class ReconnectOptions
{
    /// <summary>How many connection attempts to make before giving up, at least 1. 10 by default.</summary>
    public int MaxAttempts { get; set; } = 10;

    /// <summary>The delay before the first attempt, before jitter. 100 ms by default; zero tries at once.</summary>
    public TimeSpan InitialDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest delay between two attempts, before jitter. 30 seconds by default.</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The largest part of each delay taken off at random, from 0 (every client waits the same) to 1 (anywhere from
    /// nothing to the whole delay: AWS's "full jitter"). 0.5 by default.
    /// </summary>
    public double Jitter { get; set; } = 0.5;

    /// <summary>The delay before attempt <paramref name="attempt"/>, given a uniform random <paramref name="sample"/> in [0, 1).</summary>
    internal TimeSpan DelayBefore(int attempt, double sample)
    {
        // Doubling stops once it passes the maximum, so no attempt number overflows.
        var delay = InitialDelay;
        for (var i = 1; i < attempt && delay < MaxDelay; i++)
        {
            delay *= 2;
        }

        if (delay > MaxDelay)
        {
            delay = MaxDelay;
        }

        return delay - (delay * (Jitter * sample));
    }

    /// <summary>Throws if an option is out of range.</summary>
    internal void Validate()
    {
        if (MaxAttempts < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxAttempts), MaxAttempts, "MaxAttempts must be at least 1.");
        }

        if (InitialDelay < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(InitialDelay), InitialDelay, "InitialDelay must not be negative.");
        }

        if (MaxDelay < InitialDelay)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxDelay), MaxDelay, "MaxDelay must be at least InitialDelay.");
        }

        TimerLimit.Require(MaxDelay, nameof(MaxDelay));

        if (!(Jitter is >= 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(Jitter), Jitter, "Jitter must be between 0 and 1.");
        }
    }
}
