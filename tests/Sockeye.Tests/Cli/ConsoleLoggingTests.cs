using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using Sockeye.Cli;
using Sockeye.Diagnostics;

namespace Sockeye.Tests.Cli;

public class ConsoleLoggingTests
{
    [Fact(Timeout = Timeouts.Fast)]
    public Task Simple_format_writes_the_bare_message_for_information()
    {
        var line = Format(LogFormat.Simple, LogLevel.Information, "Listening on 127.0.0.1:11000");

        Assert.Equal("Listening on 127.0.0.1:11000" + Environment.NewLine, line);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task Simple_format_prefixes_other_levels()
    {
        Assert.Equal("warning: slow" + Environment.NewLine, Format(LogFormat.Simple, LogLevel.Warning, "slow"));
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData(LogLevel.Information, "<6>Listening on 127.0.0.1:11000")]
    [InlineData(LogLevel.Warning, "<4>warning: Listening on 127.0.0.1:11000")]
    [InlineData(LogLevel.Error, "<3>error: Listening on 127.0.0.1:11000")]
    public Task Simple_format_to_the_journal_starts_with_the_syslog_priority(LogLevel level, string expected)
    {
        var entry = new LogEntry<string>(level, "Sockeye.SocketServer", new EventId(1), "Listening on 127.0.0.1:11000", null, (state, _) => state);
        using var writer = new StringWriter();

        new ConsoleLogging.PlainFormatter(journal: true).Write(in entry, null, writer);

        Assert.Equal(expected + Environment.NewLine, writer.ToString());
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task Json_format_writes_one_object_per_line_with_the_connection_id_scope()
    {
        var line = Format(LogFormat.Json, LogLevel.Information, "Connection 7 ended: IdleTimeout; press Ctrl+C", connectionId: 7);

        Assert.Single(line.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        using var json = JsonDocument.Parse(line);
        var root = json.RootElement;
        Assert.Equal(11, root.GetProperty("EventId").GetInt32());
        Assert.Equal("Information", root.GetProperty("LogLevel").GetString());
        Assert.Equal("Sockeye.Connection", root.GetProperty("Category").GetString());
        Assert.Equal("Connection 7 ended: IdleTimeout; press Ctrl+C", root.GetProperty("Message").GetString());
        Assert.Contains("Ctrl+C", line, StringComparison.Ordinal);
        Assert.EndsWith("Z", root.GetProperty("Timestamp").GetString(), StringComparison.Ordinal);
        var scope = Assert.Single(root.GetProperty("Scopes").EnumerateArray());
        Assert.Equal(7, scope.GetProperty("ConnectionId").GetInt64());
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("simple", "Simple")]
    [InlineData("JSON", "Json")]
    public Task Format_names_parse_without_regard_to_case(string text, string expected)
    {
        Assert.True(ConsoleLogging.TryParseFormat(text, out var format));
        Assert.Equal(expected, format.ToString());
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("1")]
    [InlineData("xml")]
    [InlineData(null)]
    public Task Other_format_names_are_refused(string? text)
    {
        Assert.False(ConsoleLogging.TryParseFormat(text, out _));
        return Task.CompletedTask;
    }

    /// <summary>Writes one entry through the formatter the configuration picks, as the console logger would.</summary>
    private static string Format(LogFormat format, LogLevel level, string message, long? connectionId = null)
    {
        var services = new ServiceCollection();
        services.AddLogging(builder => ConsoleLogging.Configure(builder, LogLevel.Trace, format));
        using var provider = services.BuildServiceProvider();
        var name = provider.GetRequiredService<IOptionsMonitor<ConsoleLoggerOptions>>().CurrentValue.FormatterName;
        var formatter = provider.GetServices<ConsoleFormatter>().Single(f => f.Name == name);

        var scopes = new LoggerExternalScopeProvider();
        using var scope = connectionId is { } id ? scopes.Push(new ConnectionLogScope(id)) : null;
        using var writer = new StringWriter();
        var entry = new LogEntry<string>(level, "Sockeye.Connection", new EventId(11), message, null, (state, _) => state);
        formatter.Write(in entry, scopes, writer);
        return writer.ToString();
    }
}
