using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace Sockeye.Cli.Bench;

/// <summary>
/// Progress while a run goes on, on standard error (standard output is the report's): a live table on a terminal,
/// a plain line a second otherwise.
/// </summary>
internal sealed class BenchProgress : IAsyncDisposable
{
    private readonly BenchSettings _settings;
    private readonly CancellationTokenSource _stop = new();
    private readonly Stopwatch _elapsed = Stopwatch.StartNew();
    private readonly Task _running;
    private LoadSession? _session;

    private BenchProgress(BenchSettings settings)
    {
        _settings = settings;
        _running = Console.IsErrorRedirected ? RunPlainAsync() : RunLiveAsync();
    }

    public static BenchProgress Start(BenchSettings settings) => new(settings);

    /// <summary>Follows <paramref name="session"/> from now on (the idle workload runs a warm-up session first).</summary>
    public void Track(LoadSession session) => Volatile.Write(ref _session, session);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _running;
        _stop.Dispose();
    }

    private async Task RunPlainAsync()
    {
        var previous = default(ProgressSample);
        while (await TickAsync(TimeSpan.FromSeconds(1)))
        {
            if (Sample(ref previous) is { } sample)
            {
                await Console.Error.WriteLineAsync(sample.ToLine(_settings.Workload));
            }
        }
    }

    private async Task RunLiveAsync()
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        var table = NewTable(_settings.Workload);
        await console.Live(table).AutoClear(false).StartAsync(async context =>
        {
            var previous = default(ProgressSample);
            while (await TickAsync(TimeSpan.FromMilliseconds(500)))
            {
                if (Sample(ref previous) is { } sample)
                {
                    table.Rows.Clear();
                    table.AddRow(sample.Cells(_settings.Workload));
                    context.Refresh();
                }
            }
        });
    }

    private async Task<bool> TickAsync(TimeSpan interval)
    {
        try
        {
            await Task.Delay(interval, _stop.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private ProgressSample? Sample(ref ProgressSample previous)
    {
        if (Volatile.Read(ref _session) is not { } session)
        {
            return null;
        }

        var totals = session.Totals();
        var now = _elapsed.Elapsed;
        var sample = new ProgressSample(now, session.Control.Phase, totals, session.Connections, default);
        var seconds = (now - previous.Elapsed).TotalSeconds;
        if (previous.Elapsed > TimeSpan.Zero && seconds > 0)
        {
            sample = sample with
            {
                Rates = new ProgressRates(
                    (totals.Messages - previous.Totals.Messages) / seconds,
                    (totals.BytesReceived - previous.Totals.BytesReceived) / seconds / (1024 * 1024),
                    (totals.Connects - previous.Totals.Connects) / seconds),
            };
        }

        previous = sample;
        return sample;
    }

    private static Table NewTable(BenchWorkload workload)
    {
        var table = new Table().Border(TableBorder.Rounded);
        foreach (var column in ProgressSample.Columns(workload))
        {
            table.AddColumn(new TableColumn(column).RightAligned());
        }

        return table;
    }
}

internal readonly record struct ProgressRates(double Messages, double Mebibytes, double Connects);

/// <summary>One reading of the counters, and the rates since the one before.</summary>
internal readonly record struct ProgressSample(TimeSpan Elapsed, BenchPhase Phase, LoadTotals Totals, int Connections, ProgressRates Rates)
{
    public static string[] Columns(BenchWorkload workload) => workload switch
    {
        BenchWorkload.Echo or BenchWorkload.Broadcast => ["time", "phase", "open", "msgs/s", "MiB/s", "errors"],
        BenchWorkload.OneShot => ["time", "phase", "open", "conn/s", "errors"],
        _ => ["time", "phase", "open", "ready", "conn/s", "errors"],
    };

    public string[] Cells(BenchWorkload workload) => workload switch
    {
        BenchWorkload.Echo or BenchWorkload.Broadcast => [Time, PhaseName, Format(Totals.Open), Format(Rates.Messages), Format(Rates.Mebibytes, "N2"), Format(Totals.Errors)],
        BenchWorkload.OneShot => [Time, PhaseName, Format(Totals.Open), Format(Rates.Messages), Format(Totals.Errors)],
        _ => [Time, PhaseName, Format(Totals.Open), $"{Format(Totals.Ready)} of {Format(Connections)}", Format(Rates.Connects), Format(Totals.Errors)],
    };

    public string ToLine(BenchWorkload workload)
    {
        var cells = Cells(workload);
        var columns = Columns(workload);
        return "bench: " + string.Join("  ", cells.Select((cell, i) => i < 2 ? cell : $"{columns[i]} {cell}"));
    }

    private string Time => Elapsed.TotalSeconds.ToString("0.0 s", CultureInfo.InvariantCulture);

    private string PhaseName => Phase switch
    {
        BenchPhase.Connecting => "connecting",
        BenchPhase.WarmingUp => "warm-up",
        BenchPhase.Measuring => "measuring",
        _ => "draining",
    };

    private static string Format(double value, string format = "N0") => value.ToString(format, CultureInfo.InvariantCulture);
}
