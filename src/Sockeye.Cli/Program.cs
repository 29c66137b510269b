using System.CommandLine;
using Sockeye.Cli;

var root = new RootCommand("sockeye: an asynchronous TCP server, its client, and a load generator.")
{
    ServeCommand.Create(),
    SendCommand.Create(),
    Sockeye.Cli.Bench.BenchCommand.Create(),
};

var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    var command = string.Join(' ', ["sockeye", .. parsed.Tokens.Where(token => token.Type == System.CommandLine.Parsing.TokenType.Command).Select(token => token.Value)]);
    // Some parser messages list choices on several lines; an error is one line.
    var message = string.Join(' ', parsed.Errors[0].Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    Console.Error.WriteLine($"error: {message} (see '{command} --help')");
    return ExitCodes.Usage;
}

try
{
    // Signals are the commands' business (a graceful stop, then an abort), not the parser's.
    return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false });
}
catch (CliException ex)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    return ex.ExitCode;
}
#pragma warning disable CA1031 // The last line of defence: one line, never a stack trace.
catch (Exception ex)
#pragma warning restore CA1031
{
    Console.Error.WriteLine($"error: {ex.Message}");
    return ExitCodes.Failure;
}
