using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Sockeye.Tests.Infrastructure;

/// <summary>Keeps every log entry, with its level, event id and scopes, for assertions.</summary>
internal sealed class RecordingLoggerProvider : ILoggerProvider, ISupportExternalScope
{
    private readonly ConcurrentQueue<LogRecord> _records = new();
    private readonly SemaphoreSlim _added = new(0);
    private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

    public IReadOnlyList<LogRecord> Records => [.. _records];

    /// <summary>Waits for the first entry that matches <paramref name="match"/>.</summary>
    public async Task<LogRecord> WaitForAsync(Func<LogRecord, bool> match)
    {
        while (true)
        {
            if (_records.FirstOrDefault(match) is { } found)
            {
                return found;
            }

            await _added.WaitAsync(TestContext.Current.CancellationToken);
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public void Dispose()
    {
    }

    internal sealed record LogRecord(string Category, LogLevel Level, EventId EventId, string Message, Exception? Exception, IReadOnlyList<object?> Scopes)
    {
        /// <summary>The name of the thread that logged it: where the server did the work the line reports.</summary>
        public string? ThreadName { get; init; }
    }

    private sealed class Logger(RecordingLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => provider._scopes.Push(state);

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var scopes = new List<object?>();
            provider._scopes.ForEachScope((scope, list) => list.Add(scope), scopes);
            provider._records.Enqueue(new LogRecord(category, logLevel, eventId, formatter(state, exception), exception, scopes) { ThreadName = Thread.CurrentThread.Name });
            provider._added.Release();
        }
    }
}
