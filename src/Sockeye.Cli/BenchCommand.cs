using System.CommandLine;
using System.Globalization;
using System.Text.Json;

namespace Sockeye.Cli.Bench;

/// <summary>
/// <c>sockeye bench</c>: a load generator, run as its own process against any TCP server that speaks the seed's
/// workloads (echo, eof-echo, print).
/// </summary>
internal static class BenchCommand
{
    public static Command Create() => new("bench", "Measure a server: throughput, latency and errors, with every echoed byte checked.")
    {
        Workload(BenchWorkload.Echo, "echo", "Long-lived connections, each with messages in flight, against '--handler echo'.", connections: 100),
        Workload(BenchWorkload.OneShot, "oneshot",
            "A connection per exchange against '--handler eof-echo' (request plus delimiter, echoed), or with --half-close against 'print'.",
            connections: 50),
        Workload(BenchWorkload.Idle, "idle",
            "Open connections, exchange one message on each, and hold them quiet, against '--handler echo' (a server that echoes and " +
            "keeps connections open); with --server-pid, the server's memory per connection.",
            connections: 1000),
        Workload(BenchWorkload.Broadcast, "broadcast",
            "Publishers and subscribers through '--handler relay' (line framing): every line a publisher sends must reach every " +
            "subscriber, intact and in order; reports messages delivered per second and their latency, with slow consumers if asked.",
            connections: 100),
    };

    private static Command Workload(BenchWorkload workload, string name, string description, int connections)
    {
        var host = new Option<string>("--host")
        {
            Description = "The server's host name or address.",
            DefaultValueFactory = _ => "localhost",
            HelpName = "HOST",
        }.NotBlank("a host name or address");
        var port = CommonOptions.Port("The server's port.");
        var connectionCount = workload == BenchWorkload.Broadcast
            ? Count("--subscribers", "-n", "Subscribers: connections that only receive.", connections, max: 1_000_000)
            : Count("--connections", "-c", workload == BenchWorkload.OneShot
                ? "Exchanges under way at once."
                : "Connections to open.", connections, max: 1_000_000);
        var size = CommonOptions.ByteSize("--size", workload switch
        {
            BenchWorkload.Echo => "Bytes per message.",
            BenchWorkload.Broadcast => $"Bytes per message, its newline included (at least {BroadcastMessage.MinSize}).",
            BenchWorkload.OneShot => "Bytes per request, before the delimiter.",
            _ => "Bytes of the one exchange on each connection; 0 exchanges nothing.",
        }, defaultBytes: 32, minimum: workload switch
        {
            BenchWorkload.Echo => 1,
            BenchWorkload.Broadcast => BroadcastMessage.MinSize,
            _ => 0,
        });
        size.Aliases.Add("-s");
        var parseSize = size.CustomParser!;
        size.CustomParser = result =>
        {
            var value = parseSize(result);
            if (value.Bytes > MaxSize(workload))
            {
                result.AddError($"--size must be at most {new ByteSize(MaxSize(workload))} for {name}, not {value}.");
            }

            return value;
        };
        var duration = CommonOptions.Seconds("--duration", workload == BenchWorkload.Idle
            ? "How long to hold the connections once all are open."
            : "How long to measure.", defaultSeconds: 10);
        var warmup = CommonOptions.Seconds("--warmup", "How long to run before measuring.", defaultSeconds: 2, ZeroSeconds.Off);
        var threads = Count("--threads", null, "Generator threads, each with its own event loop.", 1, max: 64);
        var connectConcurrency = Count("--connect-concurrency", null, "Connects under way at once.", 256, max: 100_000);
        var serverPid = new Option<int?>("--server-pid")
        {
            Description = "The server's process id: the report adds its CPU time and memory (from /proc).",
            HelpName = "PID",
        };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON." };

        var command = new Command(name, description)
        {
            host, port, connectionCount, size, duration, warmup, threads, connectConcurrency, serverPid, json,
        };

        Option<int>? publishers = null;
        Option<int>? window = null;
        Option<double>? nonReaders = null;
        if (workload == BenchWorkload.Broadcast)
        {
            publishers = Count("--publishers", null, "Publishers: connections that send.", 1, max: BroadcastMessage.MaxPublishers);
            window = Count("--window", null, "Messages a publisher may send beyond what every reading subscriber has received.", 64, max: 65536);
            nonReaders = new Option<double>("--non-readers")
            {
                Description = "The share of subscribers that connect and never read (slow consumers), from 0 to 0.9.",
                DefaultValueFactory = _ => 0,
                CustomParser = result =>
                {
                    var text = result.Tokens[^1].Value;
                    if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value >= 0 && value <= 0.9)
                    {
                        return value;
                    }

                    result.AddError($"--non-readers must be a share from 0 to 0.9, such as 0.1, not '{text}'.");
                    return 0;
                },
                HelpName = "SHARE",
            };
            command.Options.Add(publishers);
            command.Options.Add(window);
            command.Options.Add(nonReaders);
        }

        Option<int>? depth = null;
        Option<bool>? halfClose = null;
        Option<string>? delimiter = null;
        if (workload == BenchWorkload.Echo)
        {
            depth = Count("--depth", "-d", "Messages in flight per connection.", 1, max: 4096);
            command.Options.Add(depth);
        }
        else if (workload == BenchWorkload.OneShot)
        {
            halfClose = new Option<bool>("--half-close") { Description = "Send the request, end the sending side, and expect no reply (the print handler)." };
            delimiter = new Option<string>("--delimiter")
            {
                Description = "What ends a request, as UTF-8 text.",
                DefaultValueFactory = _ => "<EOF>",
                HelpName = "TEXT",
            };
            command.Options.Add(halfClose);
            command.Options.Add(delimiter);
        }

        command.SetAction((parse, _) => RunAsync(new BenchSettings
        {
            Workload = workload,
            Host = parse.GetValue(host)!,
            Port = parse.GetValue(port),
            Connections = parse.GetValue(connectionCount) + (publishers is null ? 0 : parse.GetValue(publishers)),
            Publishers = publishers is null ? 0 : parse.GetValue(publishers),
            Window = window is null ? 64 : parse.GetValue(window),
            NonReaderFraction = nonReaders is null ? 0 : parse.GetValue(nonReaders),
            Size = (int)parse.GetValue(size).Bytes,
            Depth = depth is null ? 1 : parse.GetValue(depth),
            HalfClose = halfClose is not null && parse.GetValue(halfClose),
            Delimiter = delimiter is null ? "<EOF>" : parse.GetValue(delimiter)!,
            Duration = TimeSpan.FromSeconds(parse.GetValue(duration)),
            Warmup = TimeSpan.FromSeconds(parse.GetValue(warmup)),
            Threads = parse.GetValue(threads),
            ConnectConcurrency = parse.GetValue(connectConcurrency),
            ServerPid = parse.GetValue(serverPid),
            Json = parse.GetValue(json),
        }));
        return command;
    }

    // Echo messages stream through a fixed buffer; one-shot requests and idle exchanges are built whole per connection.
    private static long MaxSize(BenchWorkload workload) => workload switch
    {
        BenchWorkload.Echo => 64L << 20,
        BenchWorkload.Broadcast => BroadcastMessage.MaxSize,
        _ => 1L << 20,
    };

    private static Option<int> Count(string name, string? alias, string description, int defaultValue, int max)
    {
        var option = new Option<int>(name)
        {
            Description = description,
            DefaultValueFactory = _ => defaultValue,
            CustomParser = result =>
            {
                var text = result.Tokens[^1].Value;
                if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= 1 && value <= max)
                {
                    return value;
                }

                result.AddError($"{name} must be a whole number from 1 to {max:N0}, not '{text}'.");
                return 0;
            },
            HelpName = "N",
        };
        if (alias is not null)
        {
            option.Aliases.Add(alias);
        }

        return option;
    }

    private static async Task<int> RunAsync(BenchSettings settings)
    {
        try
        {
            return await RunCoreAsync(settings);
        }
        catch (BenchException ex)
        {
            throw new CliException(ex.Message);
        }
    }

    private static async Task<int> RunCoreAsync(BenchSettings settings)
    {
        BenchPreflight.RequireLinux();
        BenchPreflight.EnsureFileLimit(settings.Connections);

        // Ctrl+C (or SIGTERM) ends the current phase early and still reports; a second one stops at once.
        using var signal = new ShutdownSignal();
        using var endEarly = new CancellationTokenSource();
        _ = signal.StopRequested.ContinueWith(_ => endEarly.Cancel(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);

        BenchReport report;
        await using (var progress = BenchProgress.Start(settings))
        {
            report = await new BenchRunner(settings, progress, endEarly.Token, signal.AbortRequested).RunAsync();
        }

        if (settings.Json)
        {
            await Console.Out.WriteLineAsync(JsonSerializer.Serialize(report, BenchJsonContext.Default.BenchReport));
        }
        else
        {
            await Console.Out.WriteAsync(BenchReportText.Format(report));
        }

        if (report.Errors > 0)
        {
            await Console.Error.WriteLineAsync($"error: {report.Errors:N0} error(s) during the run; the first: {(report.ErrorSamples.Count > 0 ? report.ErrorSamples[0] : "unknown")}");
            return ExitCodes.Failure;
        }

        return ExitCodes.Success;
    }
}
