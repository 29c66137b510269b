using System.Diagnostics;
using System.Text;
using HdrHistogram;

namespace Sockeye.Cli.Bench;

/// <summary>Runs a workload through its phases and reports what it measured.</summary>
internal sealed class BenchRunner
{
    // How long connections get to finish what is under way once measuring ends.
    private static readonly TimeSpan s_drainGrace = TimeSpan.FromSeconds(5);

    // After the idle workload's connections are all open, how long the server gets to settle before its memory is read.
    private static readonly TimeSpan s_idleSettle = TimeSpan.FromSeconds(1);

    private const int IdleWarmupConnections = 100;

    private readonly BenchSettings _settings;
    private readonly BenchProgress _progress;
    private readonly CancellationToken _endEarly;
    private readonly CancellationToken _abort;
    private readonly ServerProcess? _server;

    public BenchRunner(BenchSettings settings, BenchProgress progress, CancellationToken endEarly, CancellationToken abort)
    {
        _settings = settings;
        _progress = progress;
        _endEarly = endEarly;
        _abort = abort;
        _server = settings.ServerPid is { } pid ? new ServerProcess(pid) : null;
    }

    public async Task<BenchReport> RunAsync()
    {
        _server?.Sample();
        var endPoint = await BenchPreflight.ResolveAsync(_settings.Host, _settings.Port, _abort);
        await BenchPreflight.ProbeAsync(endPoint, _abort);
        if (_settings.Workload == BenchWorkload.Idle && _settings.Size > 0)
        {
            await BenchPreflight.ProbeEchoAsync(endPoint, "idle", _abort);
        }

        var native = BenchPreflight.ToNative(endPoint);
        return _settings.Workload switch
        {
            BenchWorkload.Idle => await RunIdleAsync(native),
            BenchWorkload.Broadcast => await RunBroadcastAsync(native),
            _ => await RunTrafficAsync(native),
        };
    }

    /// <summary>
    /// Broadcast: subscribers connect, then publishers, which send through the warm-up and the measured window; then
    /// publishers stop, and every subscriber that reads must receive the rest before the run ends.
    /// </summary>
    private async Task<BenchReport> RunBroadcastAsync(Native.NativeEndPoint endPoint)
    {
        var subscribers = _settings.Connections - _settings.Publishers;
        var state = new BroadcastState(_settings.Publishers, subscribers, _settings.NonReaderFraction, _settings.Window);
        var baseline = _server?.Sample();
        using var session = new LoadSession(_settings, endPoint, _settings.Connections, (loop, index) => index < subscribers
            ? new SubscriberConnection(loop, index, state, _settings.Size)
            : new PublisherConnection(loop, index, index - subscribers, state, _settings.Size));
        _progress.Track(session);
        session.Start();
        bool AllConnected(int count) => session.Totals() is var t && t.Connects + t.ConnectFailures >= count;
        await LoadSession.WaitUntilAsync(() => AllConnected(subscribers), ConnectBound(), _abort);
        state.StartPublishers();
        await LoadSession.WaitUntilAsync(() => AllConnected(_settings.Connections), ConnectBound(), _abort);

        session.Control.Enter(BenchPhase.WarmingUp);
        await DelayAsync(_settings.Warmup);

        var before = Measure();
        session.Control.Enter(BenchPhase.Measuring);
        var peak = await WatchMemoryAsync(_settings.Duration);
        var after = Measure();

        // Publishers stop, and what is in flight gets the grace to arrive: only what has not arrived by then is an error.
        var drain = Stopwatch.StartNew();
        await session.StopAsync(s_drainGrace, _abort);
        var drainSeconds = drain.Elapsed.TotalSeconds;
        var window = session.Collect();
        var report = Report(window, before, after, connected: Math.Min(session.Totals().Connects, _settings.Connections));
        var reading = subscribers - state.NonReaders;
        return report with
        {
            Broadcast = new BroadcastReport(
                _settings.Publishers, subscribers, state.NonReaders, state.NonReadersEnded, state.LateJoins(), _settings.Window,
                reading > 0 ? report.MessagesPerSecond / reading : 0,
                state.FirstNonReaderEndedSeconds,
                state.LastNonReaderEndedSeconds,
                drainSeconds),
            Server = report.Server is { } server ? server with { RssBeforeBytes = baseline?.RssBytes, RssPeakBytes = peak } : null,
        };
    }

    /// <summary>Waits <paramref name="duration"/>, reading the server's memory every 100 ms; returns the most it held.</summary>
    private async Task<long?> WatchMemoryAsync(TimeSpan duration)
    {
        var clock = Stopwatch.StartNew();
        long? peak = null;
        while (clock.Elapsed < duration && !_endEarly.IsCancellationRequested)
        {
            if (_server is not null)
            {
                peak = Math.Max(peak ?? 0, _server.Sample().RssBytes);
            }

            await DelayAsync(TimeSpan.FromTicks(Math.Min(TimeSpan.FromMilliseconds(100).Ticks, (duration - clock.Elapsed).Ticks)));
        }

        return peak;
    }

    /// <summary>Echo and one-shot: connect, warm up, measure, drain.</summary>
    private async Task<BenchReport> RunTrafficAsync(Native.NativeEndPoint endPoint)
    {
        using var session = new LoadSession(_settings, endPoint, _settings.Connections, CreateConnection);
        _progress.Track(session);
        session.Start();
        if (_settings.Workload == BenchWorkload.Echo)
        {
            // Long-lived connections are all opened before the clock starts; each starts talking once connected.
            await LoadSession.WaitUntilAsync(() => session.Totals() is var t && t.Connects + t.ConnectFailures >= _settings.Connections, ConnectBound(), _abort);
        }

        session.Control.Enter(BenchPhase.WarmingUp);
        await DelayAsync(_settings.Warmup);

        var before = Measure();
        session.Control.Enter(BenchPhase.Measuring);
        await DelayAsync(_settings.Duration);
        var after = Measure();

        await session.StopAsync(s_drainGrace, _abort);
        var window = session.Collect();
        // Long-lived connections all connect first; one-shot slots reconnect for every exchange.
        return Report(window, before, after, connected: Math.Min(session.Totals().Connects, _settings.Connections)) with
        {
            ConnectionsPerSecond = _settings.Workload == BenchWorkload.OneShot ? window.Messages / window.Seconds : null,
        };
    }

    /// <summary>Idle: open every connection, read the server's memory, hold them, close.</summary>
    private async Task<BenchReport> RunIdleAsync(Native.NativeEndPoint endPoint)
    {
        if (_settings.Warmup > TimeSpan.Zero)
        {
            // A few connections first, so what the server sets up once (code, pools) is not counted per connection.
            var warmup = Stopwatch.StartNew();
            var count = Math.Min(_settings.Connections, IdleWarmupConnections);
            using (var session = new LoadSession(_settings, endPoint, count, CreateConnection))
            {
                _progress.Track(session);
                session.Start();
                await WaitAllSettledAsync(session, count);
                await session.StopAsync(s_drainGrace, _abort);
            }

            await DelayAsync(_settings.Warmup - warmup.Elapsed);
        }

        var memoryBefore = _server?.Sample();
        using var main = new LoadSession(_settings, endPoint, _settings.Connections, CreateConnection);
        _progress.Track(main);
        var ramp = Stopwatch.StartNew();
        main.Start();
        await WaitAllSettledAsync(main, _settings.Connections);
        var rampSeconds = ramp.Elapsed.TotalSeconds;
        var ready = main.Totals().Ready;

        var before = Measure();
        main.Control.Enter(BenchPhase.Measuring);
        await DelayAsync(s_idleSettle);
        var memoryAfter = _server?.Sample();
        await DelayAsync(_settings.Duration - s_idleSettle);
        var after = Measure();

        await main.StopAsync(s_drainGrace, _abort);
        var report = Report(main.Collect(), before, after, connected: ready) with
        {
            Messages = ready,
            MessagesPerSecond = 0,
            ConnectionsPerSecond = ready / rampSeconds,
        };
        if (report.Server is { } server && memoryBefore is { } rssBefore && memoryAfter is { } rssAfter)
        {
            report = report with
            {
                Server = server with
                {
                    RssBytes = rssAfter.RssBytes,
                    RssBeforeBytes = rssBefore.RssBytes,
                    RssPerConnectionBytes = ready > 0 ? (double)(rssAfter.RssBytes - rssBefore.RssBytes) / ready : null,
                },
            };
        }

        return report;
    }

    private Task<bool> WaitAllSettledAsync(LoadSession session, int count) =>
        LoadSession.WaitUntilAsync(() => session.Totals() is var t && t.Ready + t.Errors >= count, ConnectBound(), _abort);

    // Connecting thousands of connections takes a while on a busy machine; it must still end.
    private TimeSpan ConnectBound() => TimeSpan.FromSeconds(30 + (_settings.Connections / 500.0));

    private LoadConnection CreateConnection(LoadLoop loop, int index) => _settings.Workload switch
    {
        BenchWorkload.Echo => new EchoConnection(loop, index, _settings.Size, _settings.Depth),
        BenchWorkload.OneShot => new OneShotConnection(loop, index, Request(index), _settings.HalfClose),
        _ => new IdleConnection(loop, index, _settings.Size),
    };

    private byte[] Request(int index)
    {
        var delimiter = _settings.HalfClose ? [] : Encoding.UTF8.GetBytes(_settings.Delimiter);
        var request = new byte[_settings.Size + delimiter.Length];
        Payload.CopyTo(Payload.StartFor(index), request.AsSpan(0, _settings.Size));
        delimiter.CopyTo(request.AsSpan(_settings.Size));
        return request;
    }

    private async Task DelayAsync(TimeSpan delay)
    {
        if (delay <= TimeSpan.Zero)
        {
            return;
        }

        try
        {
            await Task.Delay(delay, _endEarly);
        }
        catch (OperationCanceledException)
        {
            // Ctrl+C: end this phase now and report what was measured.
        }
    }

    private static double? PerMessage(double seconds, long messages) => messages > 0 ? seconds / messages * 1e6 : null;

    private CpuReading Measure() => new(Environment.CpuUsage, _server?.Sample());

    private BenchReport Report(MeasuredWindow window, CpuReading before, CpuReading after, long connected)
    {
        var seconds = Math.Max(window.Seconds, 1e-9);
        var messages = window.Messages;
        var cpu = (after.Own.TotalTime - before.Own.TotalTime).TotalSeconds;
        var userCpu = (after.Own.UserTime - before.Own.UserTime).TotalSeconds;
        return new BenchReport
        {
            Workload = _settings.Workload switch
            {
                BenchWorkload.Echo => "echo",
                BenchWorkload.OneShot => "oneshot",
                BenchWorkload.Broadcast => "broadcast",
                _ => "idle",
            },
            Target = HostAndPort.Format(_settings.Host, _settings.Port),
            Connections = _settings.Connections,
            Size = _settings.Size,
            Depth = _settings.Workload == BenchWorkload.Echo ? _settings.Depth : null,
            HalfClose = _settings.Workload == BenchWorkload.OneShot ? _settings.HalfClose : null,
            Threads = _settings.Threads,
            WarmupSeconds = _settings.Warmup.TotalSeconds,
            DurationSeconds = _settings.Duration.TotalSeconds,
            MeasuredSeconds = window.Seconds,
            Messages = messages,
            MessagesPerSecond = messages / seconds,
            MebibytesPerSecond = window.BytesReceived / seconds / (1024 * 1024),
            Latency = window.Latency.TotalCount > 0 ? Latency(window.Latency) : null,
            Errors = window.Errors,
            ErrorSamples = window.ErrorSamples,
            Connected = connected,
            Generator = new GeneratorReport(
                cpu,
                cpu / seconds * 100,
                PerMessage(cpu, messages),
                PerMessage(userCpu, messages),
                messages > 0 ? (double)window.AllocatedBytes / messages : null),
            Server = before.Server is { } serverBefore && after.Server is { } serverAfter
                ? new ServerReport
                {
                    Pid = _server!.Pid,
                    CpuSeconds = serverAfter.CpuSeconds - serverBefore.CpuSeconds,
                    CpuPercent = (serverAfter.CpuSeconds - serverBefore.CpuSeconds) / seconds * 100,
                    CpuMicrosecondsPerMessage = PerMessage(serverAfter.CpuSeconds - serverBefore.CpuSeconds, messages),
                    UserCpuMicrosecondsPerMessage = PerMessage(serverAfter.UserCpuSeconds - serverBefore.UserCpuSeconds, messages),
                    RssBytes = serverAfter.RssBytes,
                    Threads = serverAfter.Threads,
                }
                : null,
        };
    }

    /// <summary>The generator's CPU time and the server's state at one moment.</summary>
    private readonly record struct CpuReading(Environment.ProcessCpuUsage Own, ServerSample? Server);

    private static LatencyReport Latency(LongHistogram histogram)
    {
        double Microseconds(double ticks) => ticks * 1e6 / Stopwatch.Frequency;
        return new LatencyReport(
            Microseconds(histogram.GetValueAtPercentile(50)),
            Microseconds(histogram.GetValueAtPercentile(90)),
            Microseconds(histogram.GetValueAtPercentile(99)),
            Microseconds(histogram.GetValueAtPercentile(99.9)),
            Microseconds(histogram.GetMaxValue()),
            Microseconds(histogram.GetMean()));
    }
}
