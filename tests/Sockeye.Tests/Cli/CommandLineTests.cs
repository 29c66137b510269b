using Microsoft.Extensions.Logging;
using Sockeye.Cli;
using Sockeye.Cli.Bench;

namespace Sockeye.Tests.Cli;

/// <summary>What the commands' options accept and say, parsed in process (no tool started).</summary>
public class CommandLineTests
{
    [Fact(Timeout = Timeouts.Fast)]
    public Task A_log_level_that_is_not_one_lists_the_levels_instead_of_a_type_name()
    {
        var parse = ServeCommand.Create().Parse(["--log-level", "chatty"]);

        var error = Assert.Single(parse.Errors).Message;
        Assert.Equal("--log-level must be one of trace, debug, information, warning, error, critical or none, not 'chatty'.", error);
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("warning", LogLevel.Warning)]
    [InlineData("Debug", LogLevel.Debug)]
    [InlineData("NONE", LogLevel.None)]
    [InlineData("Information", LogLevel.Information)]
    public Task Log_levels_are_their_names_in_any_case(string text, LogLevel level)
    {
        var parse = ServeCommand.Create().Parse(["--log-level", text]);

        Assert.Empty(parse.Errors);
        Assert.Equal(level, parse.GetValue<LogLevel>("--log-level"));
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task A_size_takes_decimal_and_binary_suffixes_and_says_what_they_mean_when_it_is_wrong()
    {
        var decimalSize = ServeCommand.Create().Parse(["--max-message-size", "1MB"]);
        var wrong = ServeCommand.Create().Parse(["--max-message-size", "1XB"]);

        Assert.Empty(decimalSize.Errors);
        Assert.Equal(1_000_000, decimalSize.GetValue<ByteSize>("--max-message-size").Bytes);
        Assert.Contains("K and KiB are 1024, KB is 1000", Assert.Single(wrong.Errors).Message, StringComparison.Ordinal);
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("echo")]
    [InlineData("oneshot")]
    [InlineData("idle")]
    public Task Bench_connects_to_the_host_send_connects_to_by_default(string workload)
    {
        var bench = BenchCommand.Create().Subcommands.Single(command => command.Name == workload).Parse([]);
        var send = SendCommand.Create().Parse([]);

        Assert.Equal("localhost", send.GetValue<string>("--host"));
        Assert.Equal(send.GetValue<string>("--host"), bench.GetValue<string>("--host"));
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task Bench_idle_says_which_handler_it_needs()
    {
        var idle = BenchCommand.Create().Subcommands.Single(command => command.Name == "idle");

        Assert.Contains("'--handler echo'", idle.Description, StringComparison.Ordinal);
        return Task.CompletedTask;
    }
}
