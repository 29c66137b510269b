using System.Diagnostics;
using HdrHistogram;
using Sockeye.Cli.Bench.Native;

namespace Sockeye.Cli.Bench;

/// <summary>A set of event loops and their connections, run through the phases together.</summary>
internal sealed class LoadSession : IDisposable
{
    private readonly LoadLoop[] _loops;
    private bool _started;
    private bool _stopped;

    public LoadSession(BenchSettings settings, NativeEndPoint endPoint, int connections, Func<LoadLoop, int, LoadConnection> create)
    {
        var threads = Math.Clamp(settings.Threads, 1, connections);
        var connectsPerLoop = Math.Max(1, settings.ConnectConcurrency / threads);
        _loops = new LoadLoop[threads];
        for (var i = 0; i < threads; i++)
        {
            _loops[i] = new LoadLoop(i, Control, endPoint, connectsPerLoop);
        }

        for (var i = 0; i < connections; i++)
        {
            var loop = _loops[i % threads];
            loop.Add(create(loop, i));
        }

        Connections = connections;
    }

    public BenchControl Control { get; } = new();

    public int Connections { get; }

    public void Start()
    {
        _started = true;
        foreach (var loop in _loops)
        {
            loop.Start();
        }
    }

    /// <summary>The counters of every loop added up, as they are now.</summary>
    public LoadTotals Totals()
    {
        var totals = default(LoadTotals);
        foreach (var loop in _loops)
        {
            var stats = loop.Stats;
            totals = new LoadTotals(
                totals.Messages + stats.Messages,
                totals.BytesReceived + stats.BytesReceived,
                totals.Connects + stats.Connects,
                totals.ConnectFailures + stats.ConnectFailures,
                totals.Open + stats.Open,
                totals.Ready + stats.Ready,
                totals.Errors + stats.Errors);
        }

        return totals;
    }

    /// <summary>Waits until <paramref name="condition"/> holds, up to <paramref name="timeout"/>; returns whether it held.</summary>
    public static async Task<bool> WaitUntilAsync(Func<bool> condition, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (!condition())
        {
            if (Stopwatch.GetTimestamp() >= deadline || cancellationToken.IsCancellationRequested)
            {
                return false;
            }

            try
            {
                await Task.Delay(10, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Drains (what is under way finishes, up to <paramref name="grace"/>), then stops every loop.</summary>
    public async Task StopAsync(TimeSpan grace, CancellationToken abort)
    {
        Control.Enter(BenchPhase.Draining);
        await WaitUntilAsync(() => _loops.All(loop => loop.Drained), grace, abort);
        if (!TryJoinAll())
        {
            throw new BenchException("The load generator's event loop did not stop within 10 s.");
        }

        if (_loops.Select(loop => loop.Fault).FirstOrDefault(fault => fault is not null) is { } fault)
        {
            throw new BenchException($"The load generator failed: {fault.GetType().Name}: {fault.Message}");
        }
    }

    private bool TryJoinAll()
    {
        Control.Enter(BenchPhase.Stopped);
        _stopped = _loops.All(loop => loop.Join(TimeSpan.FromSeconds(10)));
        return _stopped;
    }

    /// <summary>What the loops measured; call after <see cref="StopAsync"/>.</summary>
    public MeasuredWindow Collect()
    {
        var latency = new LongHistogram(Stopwatch.Frequency * 60, 3);
        long messages = 0, bytesReceived = 0, allocated = 0, errors = 0;
        double seconds = 0;
        var samples = new List<string>();
        foreach (var loop in _loops)
        {
            var stats = loop.Stats;
            latency.Add(stats.Latency);
            errors += stats.Errors;
            samples.AddRange(stats.ErrorSamples.Where(sample => !samples.Contains(sample)));
            if (stats.MeasureStart is { } start && stats.MeasureEnd is { } end)
            {
                messages += end.Messages - start.Messages;
                bytesReceived += end.BytesReceived - start.BytesReceived;
                seconds += (double)(end.Timestamp - start.Timestamp) / Stopwatch.Frequency;
                allocated += stats.AllocatedWhileMeasuring;
            }
        }

        // Each loop timed its own window (they differ by the few milliseconds each took to notice a phase change).
        return new MeasuredWindow(messages, bytesReceived, seconds / _loops.Length, allocated, errors, samples.Take(5).ToList(), latency);
    }

    public void Dispose()
    {
        // A run that ends early (the server gone) still stops its threads before their epoll closes; a thread that
        // will not stop keeps its epoll, and the process is about to exit anyway.
        if (_started && !_stopped && !TryJoinAll())
        {
            return;
        }

        foreach (var loop in _loops)
        {
            loop.Dispose();
        }
    }
}

/// <summary>Counters summed over every loop.</summary>
internal readonly record struct LoadTotals(long Messages, long BytesReceived, long Connects, long ConnectFailures, long Open, long Ready, long Errors);

/// <summary>What was counted while measuring. Errors count the whole run: an error in the warm-up is still an error.</summary>
internal sealed record MeasuredWindow(
    long Messages, long BytesReceived, double Seconds, long AllocatedBytes, long Errors, IReadOnlyList<string> ErrorSamples, LongHistogram Latency);
