using System.CommandLine;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Sockeye.Framing;
using Sockeye.Cli.Handlers;
using Sockeye.Hosting;

namespace Sockeye.Cli;

/// <summary>
/// <c>sockeye serve</c>: the seed's server and its companions, as built-in handlers, run in the .NET Generic Host and
/// configured from <c>appsettings.json</c> (or <c>--config</c>), then <c>SOCKEYE__</c> variables, then flags.
/// </summary>
internal static class ServeCommand
{
    public static Command Create() => Create(out _);

    /// <param name="settings">Every flag and its configuration key.</param>
    internal static Command Create(out ServeSettings settings)
    {
        var handler = new Option<string>("--handler")
        {
            Description = string.Join(" ", ToolHandlers.All.Select(h => $"{h.Name}: {h.Description}.")),
            DefaultValueFactory = _ => ToolHandlers.Print,
            HelpName = "NAME",
        }.AcceptOnlyFromAmong(ToolHandlers.Names);
        var delimiter = FramingOptions.DelimiterText("The text that ends a message for eof-echo and --framing delimiter.");
        var framing = FramingOptions.Framing(
            $"How print, echo and relay find messages in what a client sends (none by default, {FramingOptions.Line} for relay); eof-echo always uses --delimiter.");
        var maxMessageSize = CommonOptions.ByteSize(
            "--max-message-size", "The largest message a client may send; a client that sends more is disconnected.", MessageFramer.DefaultMaxMessageSize);
        var output = new Option<string>("--output")
        {
            Description = "How handlers report on standard output: text (the seed's lines, a client's control characters escaped) or jsonl (one JSON object per message).",
            DefaultValueFactory = _ => "text",
            HelpName = "FORMAT",
        }.AcceptOnlyFromAmong("text", "jsonl");
        var logLevel = CommonOptions.LogLevel();
        var logFormat = ConsoleLogging.FormatOption();
        var drainFlags = new DrainFlags();

        // Every flag is a configuration key: add a flag here, in one line, and the file, the environment and
        // --print-config know it too.
        settings = new ServeSettings
        {
            new EndpointFlags(),
            ServeSettings.Tool(handler, "Handler"),
            ServeSettings.Tool(delimiter, "Delimiter"),
            ServeSettings.Tool(output, "Output"),
            ServeSettings.Tool(logLevel, "LogLevel"),
            ServeSettings.Tool(logFormat, "LogFormat", format => format == LogFormat.Json ? "json" : "simple"),
            ServeSettings.Tool(framing, "Framing"),
            ServeSettings.Server(maxMessageSize, nameof(SocketServerOptions.MaxMessageSize), (o, size) => o.MaxMessageSize = size.Bytes),
            new ServeLimits().Bindings,
            drainFlags.Bindings,
            new ListenerFlags().Bindings,
        };
        settings.AddRule(result =>
        {
            // A rule runs before defaults are filled in: a setting no source gives reads as null here.
            var framingName = result.GetValue(framing) ?? FramingOptions.None;
            var chosen = ToolHandlers.Find(result.GetValue(handler) ?? ToolHandlers.Print);
            if (chosen is { TakesFraming: false } && framingName is not (FramingOptions.None or FramingOptions.Delimiter))
            {
                var framed = ToolHandlers.All.Where(h => h.TakesFraming).Select(h => h.Name);
                result.AddError($"{chosen.Name} reads one message ending in --delimiter; --framing {framingName} is for {string.Join(" and ", framed)}.");
            }

            if (chosen is { NeedsFraming: true } && result.GetValue(framing) == FramingOptions.None)
            {
                result.AddError($"{chosen.Name} works message by message: --framing {FramingOptions.Delimiter}, {FramingOptions.Line} or " +
                    $"{FramingOptions.LengthPrefix} ({chosen.DefaultFraming} when left out), not {FramingOptions.None}.");
            }
        });

        var config = new Option<string>("--config")
        {
            Description = $"Read the configuration from this JSON file instead of {CliConfiguration.FileName} beside the tool. " +
                "SOCKEYE__ environment variables override it, and flags override both.",
            HelpName = "FILE",
        };
        var printConfig = new Option<bool>("--print-config")
        {
            Description = "Print the configuration serve would run with, from every source and with every default, as JSON " +
                $"(an {CliConfiguration.FileName} to start from); then exit.",
        };

        var command = new Command("serve", "Run the server until Ctrl+C or SIGTERM, then stop gracefully.");
        foreach (var option in settings.Options.Append(config).Append(printConfig))
        {
            command.Options.Add(option);
        }

        var all = settings;
        command.SetAction((parse, cancellationToken) =>
        {
            var configuration = CliConfiguration.Load(parse.GetValue(config), Environment.GetEnvironmentVariables(), all.FlagsGiven(parse));
            CheckEndpointHandlers(configuration.Root);
            var resolved = all.Resolve(configuration.Root);
            var handlerName = resolved.GetValue(handler)!;

            // The framing no source gives is the handler's own: none, or line for the relay.
            var framingName = resolved.GetResult(framing) is { Implicit: false }
                ? resolved.GetValue(framing)!
                : ToolHandlers.Find(handlerName)!.DefaultFraming ?? FramingOptions.None;
            var tool = new ToolSettings(
                handlerName, resolved.GetValue(delimiter)!, framingName, resolved.GetValue(output)!,
                resolved.GetValue(logLevel), resolved.GetValue(logFormat));
            var framingKey = all.ToolSettings.Single(setting => setting.Option == framing).Key;
            var effective = all.Effective(resolved)
                .Select(pair => pair.Key == framingKey ? new KeyValuePair<string, string?>(pair.Key, framingName) : pair);
            return parse.GetValue(printConfig)
                ? Task.FromResult(PrintConfig(configuration, tool, effective))
                : RunAsync(configuration, tool, drainFlags.Prepare(resolved));
        });
        return command;
    }

    private static async Task<int> RunAsync(CliConfiguration configuration, ToolSettings tool, Action<SocketServerOptions> configure)
    {
        using var signal = new ShutdownSignal();

        // The handler output queues its lines and writes them whenever its queue runs empty (under load, about once a
        // millisecond), through write(2) itself rather than the console's stream (see StandardStream).
        using var stdout = StandardStream.OpenOutput();
        await using var output = tool.Output == "jsonl" ? HandlerOutput.JsonLines(stdout) : HandlerOutput.Text(stdout);

        // Disposed first: it stops the server and flushes the log lines.
        using var host = BuildHost(configuration, tool, output, configure);
        var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Sockeye.Cli");

        // Bad settings are an error of one line, with no log line before it.
        CliHost.GetOptions(host);
        if (configuration.FilePath is { } file)
        {
            CliLog.ConfigurationRead(logger, file);
        }

        await CliHost.RunAsync(host, signal.StopRequested, () => CliLog.ShuttingDown(logger), signal.AbortRequested);

        // The server has stopped: what the handlers reported is written out, unless standard output takes nothing.
        if (await output.CloseAsync(signal.AbortRequested) is { } lost)
        {
            CliLog.OutputLost(logger, lost.Lines, lost.Bytes,
                lost.StreamClosed ? "standard output was closed (its reader went away)"
                : signal.AbortRequested.IsCancellationRequested ? "the stop was forced"
                : $"standard output took nothing for {WriteProgress.StallLimit.TotalSeconds:0} s");
        }

        return ExitCodes.Success;
    }

    /// <summary>
    /// Writes the configuration in effect as an appsettings.json: the endpoints as configured, every server setting as
    /// the server would run with it (checked as at start-up), and the tool's own settings.
    /// </summary>
    private static int PrintConfig(CliConfiguration configuration, ToolSettings tool, IEnumerable<KeyValuePair<string, string?>> toolValues)
    {
        using var host = BuildHost(configuration, tool, HandlerOutput.Null, configure: null);
        var options = CliHost.GetOptions(host);
        const string Section = SockeyeConfiguration.SectionName;
        var server = configuration.ForServer(EndpointFlags.DefaultUrl);
        var endpoints = ((string[])["Endpoints", "EndpointDefaults"]).SelectMany(name => server.GetSection($"{Section}:{name}").AsEnumerable(makePathsRelative: true)
            .Where(pair => pair.Value is not null)
            .OrderBy(pair => pair.Key, StringComparer.Ordinal)
            .Select(pair => new KeyValuePair<string, string?>($"{Section}:{name}:{pair.Key}", pair.Value)));
        var settings = SockeyeConfiguration.ToConfiguration(options)
            .Where(pair => !pair.Key.StartsWith("Endpoints:", StringComparison.Ordinal))
            .Select(pair => new KeyValuePair<string, string?>($"{Section}:{pair.Key}", pair.Value));
        Console.Out.WriteLine(ConfigurationJson.Write(endpoints.Concat(settings).Concat(toolValues)));
        return ExitCodes.Success;
    }

    /// <summary>
    /// An endpoint may name its own handler; the library's error for an unknown name tells an application how to
    /// register one, which a user of the tool cannot do, so the tool says which names it has.
    /// </summary>
    /// <exception cref="CliException">An endpoint names a handler the tool does not have.</exception>
    private static void CheckEndpointHandlers(IConfiguration configuration)
    {
        foreach (var endpoint in configuration.GetSection($"{SockeyeConfiguration.SectionName}:Endpoints").GetChildren())
        {
            var name = endpoint.GetChildren().FirstOrDefault(setting => setting.Key.Equals("Handler", StringComparison.OrdinalIgnoreCase));
            if (name is not null && ToolHandlers.Find(name.Value) is null)
            {
                throw new CliException($"{name.Path} '{name.Value}': the handlers are {ToolHandlers.NameList}.", ExitCodes.Usage);
            }
        }
    }

    private static IHost BuildHost(CliConfiguration configuration, ToolSettings tool, HandlerOutput output, Action<SocketServerOptions>? configure)
    {
        var handlerSettings = new HandlerSettings(output, FramingOptions.Create(tool.Framing, tool.Delimiter), tool.Delimiter);
        ConnectionHandler Create(string name) => ToolHandlers.Find(name)!.Create(handlerSettings);

        return CliHost.Build(
            configuration.ForServer(EndpointFlags.DefaultUrl),
            _ => Create(tool.Handler),
            logging => ConsoleLogging.Configure(logging, tool.LogLevel, tool.LogFormat),
            sockeye =>
            {
                // An endpoint in the configuration may name its own: "Handler": "echo".
                foreach (var name in ToolHandlers.Names)
                {
                    sockeye.AddHandler(name, _ => Create(name));
                }

                if (configure is not null)
                {
                    sockeye.Configure(configure);
                }

                // Only the JSON format shows scopes, and the server's own connection lines carry the id in their text:
                // elsewhere a scope per connection would cost every connection memory for nothing.
                sockeye.Configure(options => options.ConnectionLogScope = tool.LogFormat == LogFormat.Json);
            });
    }

    /// <summary>The tool's own settings, from every source.</summary>
    private sealed record ToolSettings(string Handler, string Delimiter, string Framing, string Output, LogLevel LogLevel, LogFormat LogFormat);
}
