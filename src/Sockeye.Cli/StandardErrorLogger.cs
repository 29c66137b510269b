using System.Buffers;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace Sockeye.Cli;

/// <summary>
/// The tool's log on standard error. As with the console logger, an entry is formatted on the thread that logs it and
/// written from a thread of the provider's own; unlike it, a thread that logs never waits for standard error. When
/// standard error does not keep up (a pipe nobody reads: a stalled log shipper, <c>2&gt;&amp;1 | less</c> left alone),
/// entries past the queue's bound are dropped and counted, and once it takes lines again one warning says how many.
/// The console logger would instead hold the logging thread until there was room: a server's event loop, logging a
/// connection's end, and with it every connection on that loop.
/// </summary>
internal sealed class StandardErrorLoggerProvider : ILoggerProvider, ISupportExternalScope
{
    /// <summary>How many lines wait at most: the console logger's bound (<see cref="ConsoleLoggerOptions.MaxQueueLength"/>).</summary>
    public const int DefaultCapacity = 2500;

    private readonly ConsoleFormatter _formatter;
    private readonly Stream _stream;
    private readonly int _capacity;
    private readonly WriteProgress _progress;
    private readonly TaskCompletionSource _written = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Logs from the writer's thread straight to the stream: the count of lines dropped, once the stream takes lines again.
    private readonly Logger _writerLog;

    // A monitor, not a Lock: the writer waits on it for lines. Under it: the lines waiting, how many were dropped since
    // the writer last took them, whether the writer waits, and whether the provider is disposed.
    private readonly object _lock = new();
    private Queue<string> _lines = new();
    private Queue<string> _spare = new();
    private long _dropped;
    private bool _writerWaiting;
    private bool _completed;

    // Set by the writer when the reader of standard error went away (a closed pipe): lines are dropped from then on.
    private volatile bool _broken;
    private IExternalScopeProvider? _scopes;

    /// <param name="formatter">How an entry becomes a line.</param>
    /// <param name="stream">Where the lines go, in UTF-8.</param>
    /// <param name="minimumLevel">The least severe entry logged: the count of lines dropped is a warning.</param>
    /// <param name="capacity">How many lines wait at most.</param>
    /// <param name="timeProvider">The clock that disposing gives up by; the system clock by default.</param>
    public StandardErrorLoggerProvider(
        ConsoleFormatter formatter, Stream stream, LogLevel minimumLevel, int capacity = DefaultCapacity, TimeProvider? timeProvider = null)
    {
        _formatter = formatter;
        _stream = stream;
        _capacity = capacity;
        _progress = new WriteProgress(timeProvider ?? TimeProvider.System);
        _writerLog = new Logger(this, "Sockeye.Cli", minimumLevel, WriteNow);
        new Thread(WriteLoop) { IsBackground = true, Name = "sockeye-log" }.UnsafeStart();
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName, LogLevel.Trace, Enqueue);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => Volatile.Write(ref _scopes, scopeProvider);

    /// <summary>
    /// Writes out the lines that wait while standard error takes them: gives up when it takes nothing for
    /// <see cref="WriteProgress.StallLimit"/>.
    /// </summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_completed)
            {
                return;
            }

            _completed = true;
            WakeWriterLocked();
        }

        _ = _progress.WaitAsync(_written.Task, CancellationToken.None).GetAwaiter().GetResult();
    }

    private void Enqueue(string line)
    {
        lock (_lock)
        {
            if (_broken || _completed)
            {
                return;
            }

            if (_lines.Count >= _capacity)
            {
                _dropped++;
                return;
            }

            _lines.Enqueue(line);
            WakeWriterLocked();
        }
    }

    private void WakeWriterLocked()
    {
        if (_writerWaiting)
        {
            _writerWaiting = false;
            Monitor.Pulse(_lock);
        }
    }

#pragma warning disable CA1031 // The log's thread must not end the process: a fault of the stream ends the log alone.
    private void WriteLoop()
    {
        var bytes = new ArrayBufferWriter<byte>();
        try
        {
            while (TakeLines() is ({ } lines, var dropped))
            {
                foreach (var line in lines)
                {
                    Encoding.UTF8.GetBytes(line, bytes);
                }

                lines.Clear();
                lock (_lock)
                {
                    _spare = lines;
                }

                Write(bytes.WrittenSpan);
                bytes.ResetWrittenCount();
                if (dropped > 0)
                {
                    // The stream took what waited: say how many lines it missed, after those written before them.
                    CliLog.LogLinesDropped(_writerLog, dropped);
                }
            }
        }
        catch (Exception)
        {
            _broken = true;
        }

        _written.TrySetResult();
    }
#pragma warning restore CA1031

    /// <summary>The lines that wait and how many were dropped, taken whole; blocks while there are none; null at the end.</summary>
    private (Queue<string>? Lines, long Dropped) TakeLines()
    {
        lock (_lock)
        {
            while (_lines.Count == 0 && _dropped == 0)
            {
                if (_completed)
                {
                    return (null, 0);
                }

                _writerWaiting = true;
                Monitor.Wait(_lock);
            }

            var lines = _lines;
            var dropped = _dropped;
            _lines = _spare;
            _dropped = 0;
            return (lines, dropped);
        }
    }

    private void WriteNow(string line) => Write(Encoding.UTF8.GetBytes(line));

    private void Write(ReadOnlySpan<byte> bytes)
    {
        if (_broken || bytes.IsEmpty)
        {
            return;
        }

        try
        {
            _stream.Write(bytes);
            _progress.Mark();
        }
        catch (IOException)
        {
            _broken = true;
        }
    }

    private sealed class Logger(StandardErrorLoggerProvider provider, string category, LogLevel minimumLevel, Action<string> write) : ILogger
    {
        // Each thread formats into a writer of its own, as the console logger does.
        [ThreadStatic]
        private static StringWriter? t_writer;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => NullScope.Instance;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && logLevel >= minimumLevel;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            var writer = t_writer ??= new StringWriter(CultureInfo.InvariantCulture);
            var entry = new LogEntry<TState>(logLevel, category, eventId, state, exception, formatter);
            provider._formatter.Write(in entry, Volatile.Read(ref provider._scopes), writer);
            var text = writer.GetStringBuilder();
            if (text.Length == 0)
            {
                return;
            }

            var line = text.ToString();
            text.Clear();
            if (text.Capacity > 1024)
            {
                text.Capacity = 1024;
            }

            write(line);
        }
    }

    /// <summary>Scopes are the factory's (<see cref="ISupportExternalScope"/>): a logger's own begins none.</summary>
    private sealed class NullScope : IDisposable
    {
        public static NullScope Instance { get; } = new();

        public void Dispose()
        {
        }
    }
}
