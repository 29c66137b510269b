using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Sockeye.Soak;

/// <summary>
/// Starts the soak server as a process of its own, runs rounds of mixed hostile load at it with healthy clients
/// beside, and after each round, with the load gone, checks that nothing leaked.
/// </summary>
internal sealed class SoakDriver(SoakSettings settings)
{
    private readonly List<string> _failures = [];

    public async Task<int> RunAsync()
    {
        using var server = StartServer(out var ports);
        var pid = server.Id;
        var listening = ProcessSample.Of(pid);
        Console.WriteLine($"soak: server pid {pid}, {listening.Sockets} listening sockets, {listening.Descriptors} descriptors; {(settings.Duration is { } d ? $"{d.TotalMinutes} min" : $"{settings.Rounds} rounds")} of {settings.RoundSeconds} s after {settings.WarmupRounds} warm-up, {settings.Clients} clients per kind");
        Console.WriteLine("round  load(s)  settle(s)  fds  sockets  threads  rss(MiB)  heap(MiB)  intact  corrupt  false-ends  hostile-ended  healthy-msgs");

        // Warm-up rounds run the same load and checks, but the memory baseline is taken after them: the JIT's
        // tiers, the buffer pools and the thread pool reach their working size there, and that is not a leak.
        ProcessSample? first = null;
        ProcessSample? last = null;
        var totals = new Tally();
        var started = Stopwatch.StartNew();
        Stats? lastStats = null;
        var rounds = 0;
        for (var round = 1; round <= settings.WarmupRounds || (settings.Duration is { } duration ? started.Elapsed < duration : round <= settings.Rounds + settings.WarmupRounds); round++)
        {
            var tally = new Tally();
            var loadTime = Stopwatch.StartNew();
            await RunRoundAsync(ports, tally, round);
            var load = loadTime.Elapsed;

            var settleTime = Stopwatch.StartNew();
            var settled = await SettleAsync(pid, listening.Sockets);
            var settle = settleTime.Elapsed;
            var stats = JsonSerializer.Deserialize<Stats>(await CommandAsync(server, "stats"))!;
            await CommandAsync(server, "gc");
            var sample = ProcessSample.Of(pid);
            if (round == settings.WarmupRounds + 1)
            {
                first = sample;
            }

            var baseline = first ?? sample;
            last = sample;
            lastStats = stats;
            rounds = round;

            var answered = await StillAnswersAsync(ports);
            Check(round, settled, $"{sample.Sockets} sockets open with the load gone; the listeners have {listening.Sockets}");
            Check(round, sample.Descriptors - sample.Sockets <= baseline.Descriptors - baseline.Sockets,
                $"{sample.Descriptors - sample.Sockets} descriptors other than sockets, {baseline.Descriptors - baseline.Sockets} after the first measured round: {ProcessSample.DescribeOthers(pid)}");
            Check(round, sample.Threads <= settings.MaxThreads, $"{sample.Threads} threads, over the bound of {settings.MaxThreads}");
            Check(round, answered is null, $"the server no longer answers: {answered}");
            foreach (var failure in tally.Failures)
            {
                // The server's side of a failed exchange: how it ended the connection from that port.
                var why = failure.LastIndexOf("[port ", StringComparison.Ordinal) is var at and >= 0
                    ? $" (server: {await CommandAsync(server, "reason " + failure[(at + 6)..^1])})"
                    : string.Empty;
                Check(round, false, failure + why);
            }

            var intact = tally.Summary().Split(' ').Where(s => s.Contains(".intact=", StringComparison.Ordinal)).Sum(s => long.Parse(s.Split('=')[1], CultureInfo.InvariantCulture));
            var corrupt = tally.Failures.Count(f => f.Contains("differ", StringComparison.Ordinal));
            var hostileEnded = tally.Summary().Split(' ').Where(s => s.Contains(".ended=", StringComparison.Ordinal)).Sum(s => long.Parse(s.Split('=')[1], CultureInfo.InvariantCulture));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{(round <= settings.WarmupRounds ? "w" : " ")}{round,4}  {load.TotalSeconds,7:F1}  {settle.TotalSeconds,9:F1}  {sample.Descriptors,3}  {sample.Sockets,7}  {sample.Threads,7}  {sample.RssBytes / 1048576.0,8:F1}  {stats.ManagedHeap / 1048576.0,9:F1}  {intact,6}  {corrupt,7}  {tally["healthy.false-ends"],10}  {hostileEnded,13}  {tally["healthy.messages"],12}"));
            if (settings.Verbose)
            {
                Console.WriteLine($"       {tally.Summary()}");
                Console.WriteLine($"       descriptors: {ProcessSample.DescribeOthers(pid)}");
            }

            foreach (var count in tally.Summary().Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                var parts = count.Split('=');
                totals.Add(parts[0], long.Parse(parts[1], CultureInfo.InvariantCulture));
            }
        }

        Console.WriteLine($"soak: {lastStats!.Ended.Values.Sum():N0} connections ended; by reason (both servers): {string.Join(", ", lastStats.Ended.Select(p => $"{p.Key} {p.Value}"))}");
        Console.WriteLine($"soak: healthy server end reasons: {string.Join(", ", lastStats.HealthyEnded.Select(p => $"{p.Key} {p.Value}"))}");
        Check(0, lastStats.HealthyEnded.Keys.All(reason => reason == "ClientClosed"),
            $"the server at the default limits ended healthy clients for {string.Join(", ", lastStats.HealthyEnded.Keys.Where(k => k != "ClientClosed"))}");

        var growth = (double)last!.RssBytes / first!.RssBytes;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"soak: {rounds} rounds in {started.Elapsed.TotalMinutes:F1} min; RSS after the first measured round {first.RssBytes / 1048576.0:F1} MiB, after the last {last.RssBytes / 1048576.0:F1} MiB ({(growth - 1) * 100:+0.0;-0.0}%)"));
        Console.WriteLine($"soak: totals: {totals.Summary()}");
        Check(0, growth <= 1.10, string.Create(CultureInfo.InvariantCulture, $"RSS grew {(growth - 1) * 100:F1}% from the first round to the last (at most 10%)"));

        server.StandardInput.Close();
        if (!server.WaitForExit(TimeSpan.FromSeconds(20)))
        {
            server.Kill();
            Check(0, false, "the server did not stop within 20 s of its input's end");
        }

        if (_failures.Count == 0)
        {
            Console.WriteLine("soak: passed: descriptors back to the listeners' after every round, threads bounded, RSS within 10%, every checksummed exchange intact, 0 false ends, the server still answers");
            return 0;
        }

        Console.WriteLine($"soak: FAILED ({_failures.Count}):");
        foreach (var failure in _failures.Take(40))
        {
            Console.WriteLine($"  {failure}");
        }

        return 1;
    }

    private async Task RunRoundAsync(Ports ports, Tally tally, int round)
    {
        using var end = new CancellationTokenSource(TimeSpan.FromSeconds(settings.RoundSeconds));
        var clients = settings.Clients;
        var tasks = new List<Task>();
        for (var i = 0; i < clients; i++)
        {
            var load = new HostileLoad(ports, tally, (round * 10_000) + i);
            tasks.Add(load.PipelinedEchoAsync(end.Token));
            tasks.Add(load.BulkAsync(end.Token));
            tasks.Add(load.ResettersAsync(end.Token));
            tasks.Add(load.SlowlorisAsync(end.Token));
            tasks.Add(load.SlowlorisAsync(end.Token));
            tasks.Add(load.NeverReadAsync(end.Token));
            tasks.Add(load.IdleAsync(end.Token));
            tasks.Add(load.IdleAsync(end.Token));
            tasks.Add(load.TlsFailuresAsync(end.Token));
            tasks.Add(load.BadProxyAsync(end.Token));
            tasks.Add(new HealthyClients(ports, tally, (round * 10_000) + i).RunAsync(end.Token));
        }

        var all = Task.WhenAll(tasks);
        if (await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(settings.RoundSeconds + 60))) != all)
        {
            tally.Fail("the round's clients did not finish within 60 s of its end");
        }
    }

    /// <summary>Waits for the server's sockets to be back to the listeners' (lingering closes and timeouts take a few seconds).</summary>
    private static async Task<bool> SettleAsync(int pid, int listeningSockets)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            if (ProcessSample.Of(pid).Sockets <= listeningSockets)
            {
                return true;
            }

            await Task.Delay(100);
        }

        return false;
    }

    private static async Task<string?> StillAnswersAsync(Ports ports)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            var tally = new Tally();
            var load = new HostileLoad(ports, tally, 1);
            using var once = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
            await new HealthyClients(ports, tally, 1).RunAsync(new CancellationToken(canceled: true));
            await load.PipelinedOnceAsync(timeout.Token);
            return tally.Failures.FirstOrDefault() ?? (tally["healthy.closed-by-client"] == 1 && tally["pipelined.intact"] == 1 ? null : tally.Summary());
        }
        catch (Exception error)
        {
            return error.Message;
        }
    }

    private void Check(int round, bool ok, string what)
    {
        if (!ok)
        {
            _failures.Add(round == 0 ? what : $"round {round}: {what}");
        }
    }

    private static Process StartServer(out Ports ports)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(typeof(SoakDriver).Assembly.Location);
        start.ArgumentList.Add("server");
        var server = Process.Start(start) ?? throw new InvalidOperationException("Could not start the soak server.");
        var ready = server.StandardOutput.ReadLine() ?? throw new InvalidOperationException("The soak server ended before it listened.");
        var values = ready.Split(' ').Skip(1).Select(field => field.Split('=')[1]).ToArray();
        Net.PinnedThumbprint = values[5];
        var fields = values[..5].Select(value => int.Parse(value, CultureInfo.InvariantCulture)).ToArray();
        ports = new Ports(fields[0], fields[1], fields[2], fields[3], fields[4]);
        return server;
    }

    private static async Task<string> CommandAsync(Process server, string command)
    {
        await server.StandardInput.WriteLineAsync(command);
        await server.StandardInput.FlushAsync();
        return await server.StandardOutput.ReadLineAsync() ?? throw new InvalidOperationException($"The soak server ended on '{command}'.");
    }
}

/// <summary>How long and how hard.</summary>
internal sealed record SoakSettings(int Rounds, int WarmupRounds, int RoundSeconds, int Clients, TimeSpan? Duration, int MaxThreads, bool Verbose);
