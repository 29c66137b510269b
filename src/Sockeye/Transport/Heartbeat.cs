using Microsoft.Extensions.Logging;
using Sockeye.Diagnostics;

namespace Sockeye.Transport;

/// <summary>
/// One timer per server that looks at every connection once a second and enforces its timeouts. A timer per
/// connection would cost memory and timer-queue churn for every idle client; a scan of counters costs neither.
/// Timeouts therefore fire up to one interval late, which is immaterial at their scale of seconds.
/// </summary>
internal sealed class Heartbeat : IDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private readonly ConnectionRegistry _connections;
    private readonly ILogger _logger;
    private readonly ITimer _timer;
    private int _beating;
    private int _beats;

    public Heartbeat(ConnectionRegistry connections, TimeProvider timeProvider, ILogger logger)
    {
        _connections = connections;
        _logger = logger;
        _timer = timeProvider.CreateTimer(static state => ((Heartbeat)state!).Beat(), this, Interval, Interval);
    }

    /// <summary>Heartbeats so far: the server's clock for timeouts, in seconds since it started.</summary>
    public int Beats => Volatile.Read(ref _beats);

    public void Dispose() => _timer.Dispose();

    private void Beat()
    {
        // A beat that overruns the interval is not overlapped by the next one.
        if (Interlocked.Exchange(ref _beating, 1) != 0)
        {
            return;
        }

        try
        {
            var beat = Interlocked.Increment(ref _beats);
            foreach (var connection in _connections.All)
            {
                connection.OnHeartbeat(beat);
            }
        }
#pragma warning disable CA1031 // A timer callback that throws takes the process down; log and beat again next time.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.HeartbeatFailed(_logger, ex);
        }
        finally
        {
            Volatile.Write(ref _beating, 0);
        }
    }
}
