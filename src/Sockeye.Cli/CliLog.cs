using Microsoft.Extensions.Logging;

namespace Sockeye.Cli;

/// <summary>The tool's own log lines. Event ids 1000 and up, apart from the library's.</summary>
internal static partial class CliLog
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "Shutting down; press Ctrl+C again to stop at once")]
    public static partial void ShuttingDown(ILogger logger);

    [LoggerMessage(EventId = 1100, Level = LogLevel.Warning, Message = "{Count} log line(s) dropped: standard error was not being read")]
    public static partial void LogLinesDropped(ILogger logger, long count);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Warning,
        Message = "{Lines} line(s) ({Bytes} bytes) of handler output lost: {Reason}")]
    public static partial void OutputLost(ILogger logger, long lines, long bytes, string reason);

    [LoggerMessage(EventId = 1200, Level = LogLevel.Information, Message = "Configuration from {Path}")]
    public static partial void ConfigurationRead(ILogger logger, string path);
}
