using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace Sockeye.Cli;

/// <summary>How log entries are written: <c>simple</c> lines for people, or <c>json</c> objects for log collectors.</summary>
internal enum LogFormat
{
    Simple,
    Json,
}

/// <summary>
/// Log lines on standard error, so standard output carries only what handlers print: the console logger's formatters,
/// written by <see cref="StandardErrorLoggerProvider"/>, which never holds a server thread when standard error is not read.
/// </summary>
internal static class ConsoleLogging
{
    public static ILoggerFactory Create(LogLevel minimumLevel, LogFormat format = LogFormat.Simple) =>
        LoggerFactory.Create(builder => Configure(builder, minimumLevel, format));

    /// <summary>Sets up console logging on <paramref name="builder"/>, for a logger factory or a host alike.</summary>
    public static void Configure(ILoggingBuilder builder, LogLevel minimumLevel, LogFormat format)
    {
        builder.SetMinimumLevel(minimumLevel);
        builder.AddConsole(options => options.FormatterName = format == LogFormat.Json ? ConsoleFormatterNames.Json : PlainFormatter.FormatterName);
        if (format == LogFormat.Json)
        {
            builder.AddJsonConsole(options =>
            {
                // The connection id travels in a scope; without scopes a collector could not group a connection's lines.
                options.IncludeScopes = true;
                options.UseUtcTimestamp = true;
                options.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";

                // For log collectors, never for HTML: "Ctrl+C" stays "Ctrl+C", not "Ctrl\u002BC".
                options.JsonWriterOptions = new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
            });
        }
        else
        {
            // Registered directly rather than through AddConsoleFormatter<,>, which binds its options from
            // configuration by reflection and so cannot be trimmed or compiled ahead of time.
            builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<ConsoleFormatter>(
                new PlainFormatter(journal: Environment.GetEnvironmentVariable("JOURNAL_STREAM") is not null)));
        }

        // The console logger's formatters and their options, without its provider: that one holds a thread that logs
        // while standard error is not read (its queue full, a pipe nobody reads); StandardErrorLoggerProvider drops lines.
        builder.Services.Remove(builder.Services.Single(service => service.ImplementationType == typeof(ConsoleLoggerProvider)));
        builder.Services.AddSingleton<ILoggerProvider>(services =>
        {
            var name = services.GetRequiredService<IOptions<ConsoleLoggerOptions>>().Value.FormatterName;
            var formatter = services.GetServices<ConsoleFormatter>().Single(formatter => formatter.Name == name);
            return new StandardErrorLoggerProvider(formatter, StandardStream.OpenError(), minimumLevel);
        });
    }

    /// <summary>The <c>--log-format</c> option.</summary>
    public static Option<LogFormat> FormatOption() => new("--log-format")
    {
        Description = "How log entries on standard error are written: simple (one plain line each) or json (one JSON object per line, with the connection id).",
        DefaultValueFactory = _ => LogFormat.Simple,
        CustomParser = result =>
        {
            var text = result.Tokens[^1].Value;
            if (TryParseFormat(text, out var format))
            {
                return format;
            }

            result.AddError($"--log-format must be simple or json, not '{text}'.");
            return default;
        },
        HelpName = "simple|json",
    };

    public static bool TryParseFormat(string? text, out LogFormat format)
    {
        // Not Enum.TryParse: it would also take "0" or "1".
        (var known, format) = text?.ToUpperInvariant() switch
        {
            "SIMPLE" => (true, LogFormat.Simple),
            "JSON" => (true, LogFormat.Json),
            _ => (false, LogFormat.Simple),
        };
        return known;
    }

    /// <summary>
    /// One line per entry: information as the bare message (<c>Listening on 127.0.0.1:11000</c>), anything else
    /// prefixed with its level. An exception adds its message to the line; its stack trace shows only at debug level.
    /// When standard error is systemd's journal, each line starts with its syslog priority (<c>&lt;4&gt;warning: ...</c>),
    /// which journald reads as the entry's priority and strips, as Microsoft.Extensions.Hosting.Systemd's formatter does.
    /// </summary>
    internal sealed class PlainFormatter(bool journal) : ConsoleFormatter(FormatterName)
    {
        public const string FormatterName = "sockeye-plain";

        public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
        {
            var message = logEntry.Formatter(logEntry.State, logEntry.Exception);
            var (priority, prefix) = logEntry.LogLevel switch
            {
                LogLevel.Information => ("<6>", string.Empty),
                LogLevel.Warning => ("<4>", "warning: "),
                LogLevel.Error => ("<3>", "error: "),
                LogLevel.Critical => ("<2>", "critical: "),
                LogLevel.Debug => ("<7>", "debug: "),
                _ => ("<7>", "trace: "),
            };
            if (journal)
            {
                textWriter.Write(priority);
            }

            textWriter.Write(prefix);
            textWriter.Write(message);
            if (logEntry.Exception is { } exception)
            {
                // The journal takes one line per entry; there the stack trace's lines go on as one.
                var detail = logEntry.LogLevel <= LogLevel.Debug ? $"{Environment.NewLine}{exception}" : $": {exception.Message}";
                textWriter.Write(journal ? detail.ReplaceLineEndings(" ") : detail);
            }

            textWriter.Write(Environment.NewLine);
        }
    }

    /// <summary>For tests and tools that want no logging at all.</summary>
    public static ILoggerFactory None => NullLoggerFactory.Instance;
}
