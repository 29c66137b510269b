using Microsoft.Extensions.Logging;

namespace Sockeye.Diagnostics;

/// <summary>
/// Where a server made without a logger factory reports: its warnings and errors on standard error, one line each,
/// so that a handler that throws is never silent in a program that set up no logging. A factory of the
/// application's own replaces it, and <c>NullLoggerFactory.Instance</c> turns it off.
/// </summary>
/// <remarks>
/// Lines look like <c>error: Sockeye[12] Connection 3: the handler threw: System.InvalidOperationException: boom
/// (at Program.Handle(Connection) in Program.cs:line 12)</c>: the level, the event id to search for, the message, and
/// for an exception its type, its message and where it was thrown. Each is one write to a synchronized writer, so
/// lines from many connections never interleave.
/// </remarks>
internal sealed class StandardErrorLoggerFactory : ILoggerFactory
{
    /// <summary>The least severe entry written.</summary>
    public const LogLevel MinimumLevel = LogLevel.Warning;

    private readonly Func<TextWriter> _writer;
    private readonly Logger _logger;

    /// <summary>Writes to <see cref="Console.Error"/>, as it is when the line is written.</summary>
    public StandardErrorLoggerFactory()
        : this(static () => Console.Error)
    {
    }

    /// <param name="writer">Where each line goes, asked for at every line.</param>
    internal StandardErrorLoggerFactory(Func<TextWriter> writer)
    {
        _writer = writer;
        _logger = new Logger(this);
    }

    // Every category writes the same way: the event id, not the category, is what a reader looks up.
    public ILogger CreateLogger(string categoryName) => _logger;

    public void AddProvider(ILoggerProvider provider) =>
        throw new NotSupportedException("Standard error is the only place this factory writes; give the server a logger factory of your own instead.");

    public void Dispose()
    {
    }

    /// <summary>The one line for an entry; internal for tests.</summary>
    internal static string Format(LogLevel level, EventId eventId, string message, Exception? exception)
    {
        var prefix = level switch
        {
            LogLevel.Warning => "warning",
            LogLevel.Error => "error",
            _ => "critical",
        };
        var line = $"{prefix}: Sockeye[{eventId.Id}] {message}";
        if (exception is not null)
        {
            line += $": {exception.GetType().FullName}: {exception.Message}";
            if (ThrownAt(exception) is { } frame)
            {
                line += $" ({frame})";
            }
        }

        return OneLine(line);
    }

    /// <summary>The first frame of the exception's stack trace, where it was thrown: <c>at Type.Method(...) in file:line N</c>.</summary>
    private static string? ThrownAt(Exception exception)
    {
        var trace = exception.StackTrace;
        if (string.IsNullOrEmpty(trace))
        {
            return null;
        }

        var end = trace.IndexOfAny(['\r', '\n']);
        return (end < 0 ? trace : trace[..end]).Trim();
    }

    private static string OneLine(string text) =>
        text.Contains('\n', StringComparison.Ordinal) || text.Contains('\r', StringComparison.Ordinal)
            ? string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            : text;

    private sealed class Logger(StandardErrorLoggerFactory factory) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= MinimumLevel && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            ArgumentNullException.ThrowIfNull(formatter);
            var line = Format(logLevel, eventId, formatter(state, exception), exception);
            try
            {
                factory._writer().WriteLine(line);
            }
            catch (IOException)
            {
                // Standard error is closed or broken: there is nowhere left to report to, and logging must never
                // take a connection or the server down with it.
            }
            catch (ObjectDisposedException)
            {
                // As above: a writer disposed while the process ends.
            }
        }
    }
}
