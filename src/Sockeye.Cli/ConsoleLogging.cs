using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace Sockeye.Cli;

/// <summary>Log lines on standard error, so standard output carries only what handlers print.</summary>
internal static class ConsoleLogging
{
    public static ILoggerFactory Create(LogLevel minimumLevel) =>
        LoggerFactory.Create(builder => builder
            .SetMinimumLevel(minimumLevel)
            .AddConsole(options =>
            {
                options.FormatterName = PlainFormatter.FormatterName;
                options.LogToStandardErrorThreshold = LogLevel.Trace;
            })
            .AddConsoleFormatter<PlainFormatter, ConsoleFormatterOptions>());

    /// <summary>
    /// One line per entry: information as the bare message (<c>Listening on 127.0.0.1:11000</c>), anything else
    /// prefixed with its level. An exception adds its message to the line; its stack trace shows only at debug level.
    /// </summary>
    private sealed class PlainFormatter(IOptionsMonitor<ConsoleFormatterOptions> options) : ConsoleFormatter(FormatterName)
    {
        public const string FormatterName = "sockeye-plain";

        public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
        {
            _ = options;
            var message = logEntry.Formatter(logEntry.State, logEntry.Exception);
            var prefix = logEntry.LogLevel switch
            {
                LogLevel.Information => string.Empty,
                LogLevel.Warning => "warning: ",
                LogLevel.Error => "error: ",
                LogLevel.Critical => "critical: ",
                LogLevel.Debug => "debug: ",
                _ => "trace: ",
            };
            textWriter.Write(prefix);
            textWriter.Write(message);
            if (logEntry.Exception is { } exception)
            {
                textWriter.Write(logEntry.LogLevel <= LogLevel.Debug ? $"{Environment.NewLine}{exception}" : $": {exception.Message}");
            }

            textWriter.Write(Environment.NewLine);
        }
    }

    /// <summary>For tests and tools that want no logging at all.</summary>
    public static ILoggerFactory None => NullLoggerFactory.Instance;
}
