namespace Sockeye;

/// <summary>
/// The longest wait a .NET timer takes (<see cref="Task.Delay(TimeSpan)"/>, <see cref="Timer"/>,
/// <see cref="CancellationTokenSource.CancelAfter(TimeSpan)"/>): 2^32 - 2 ms, about 49.7 days. A longer duration passes a
/// plain range check but throws where it is used, which for the server is at SIGTERM or in every connection; each
/// duration option is checked against it when the options are.
/// </summary>
internal static class TimerLimit
{
    /// <summary>4,294,967,294 ms.</summary>
    public static readonly TimeSpan Max = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    /// <summary>The limit as a message words it.</summary>
    public const string Text = "4294967 seconds (about 49.7 days), the longest a timer waits";

    /// <summary>Throws if <paramref name="value"/> is longer than <see cref="Max"/>.</summary>
    /// <param name="value">The duration.</param>
    /// <param name="name">The option, the exception's <c>ParamName</c>.</param>
    /// <param name="infinite">What <see cref="Timeout.InfiniteTimeSpan"/> means for the option, if it takes it: the message's hint.</param>
    public static void Require(TimeSpan value, string name, string? infinite = null)
    {
        if (value > Max)
        {
            var hint = infinite is null ? string.Empty : $"; Infinite (Timeout.InfiniteTimeSpan) {infinite}";
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be at most {Text}{hint}.");
        }
    }
}
