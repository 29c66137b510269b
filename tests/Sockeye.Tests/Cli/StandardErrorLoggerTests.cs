using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Sockeye.Cli;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Cli;

public class StandardErrorLoggerTests
{
    [Fact(Timeout = Timeouts.Fast)]
    public async Task When_standard_error_takes_nothing_logging_goes_on_and_once_it_takes_lines_one_warning_counts_those_dropped()
    {
        var stream = new GatedStream();
        var provider = new StandardErrorLoggerProvider(new ConsoleLogging.PlainFormatter(journal: false), stream, LogLevel.Trace, capacity: 10);
        var logger = provider.CreateLogger("Sockeye.Connection");
        Log(logger, "line 0");

        // The writer is in its write, which does not return until the test lets it: as on a pipe nobody reads. Logging
        // never waits (the test would time out): ten lines wait, the rest are dropped.
        await stream.EnteredAsync();
        for (var i = 1; i <= 25; i++)
        {
            Log(logger, $"line {i}");
        }

        stream.Open();
        provider.Dispose();

        Assert.Equal(
            [.. Enumerable.Range(0, 11).Select(i => $"line {i}"), "warning: 15 log line(s) dropped: standard error was not being read"],
            Lines(stream));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task The_count_of_lines_dropped_is_an_entry_in_the_format_chosen()
    {
        var services = new ServiceCollection();
        services.AddLogging(builder => builder.AddJsonConsole());
        await using var formatters = services.BuildServiceProvider();
        var json = formatters.GetServices<ConsoleFormatter>().Single(formatter => formatter.Name == ConsoleFormatterNames.Json);
        var stream = new GatedStream();
        var provider = new StandardErrorLoggerProvider(json, stream, LogLevel.Trace, capacity: 1);
        var logger = provider.CreateLogger("Sockeye.Connection");
        Log(logger, "first");
        await stream.EnteredAsync();
        Log(logger, "waits");
        Log(logger, "dropped");

        stream.Open();
        provider.Dispose();

        using var last = JsonDocument.Parse(Lines(stream)[^1]);
        Assert.Equal(3, Lines(stream).Length);
        Assert.Equal(1100, last.RootElement.GetProperty("EventId").GetInt32());
        Assert.Equal("Warning", last.RootElement.GetProperty("LogLevel").GetString());
        Assert.Equal("1 log line(s) dropped: standard error was not being read", last.RootElement.GetProperty("Message").GetString());
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("simple")]
    [InlineData("json")]
    public Task The_tool_logs_through_it_and_not_through_the_console_logger(string format)
    {
        Assert.True(ConsoleLogging.TryParseFormat(format, out var logFormat));
        var services = new ServiceCollection();
        services.AddLogging(builder => ConsoleLogging.Configure(builder, LogLevel.Information, logFormat));
        using var provider = services.BuildServiceProvider();

        Assert.IsType<StandardErrorLoggerProvider>(Assert.Single(provider.GetServices<ILoggerProvider>()));
        return Task.CompletedTask;
    }

    private static string[] Lines(MemoryStream stream) =>
        Encoding.UTF8.GetString(stream.ToArray()).Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);

    private static void Log(ILogger logger, string text) => logger.Log(LogLevel.Information, default, text, null, static (text, _) => text);
}
