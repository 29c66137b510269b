using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Sockeye.Cli;

/// <summary>Options more than one command takes, defined once so they read the same everywhere.</summary>
internal static class CommonOptions
{
    public const int DefaultPort = 11000;

    public static Option<int> Port(string description) => new("--port", "-p")
    {
        Description = description,
        DefaultValueFactory = _ => DefaultPort,
        CustomParser = result =>
        {
            var text = result.Tokens[^1].Value;
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port <= 65535)
            {
                return port;
            }

            result.AddError($"--port must be a number from 0 to 65535, not '{text}'.");
            return 0;
        },
        HelpName = "N",
    };

    public static Option<LogLevel> LogLevel() => new("--log-level")
    {
        Description = "The least severe log entry written to standard error.",
        DefaultValueFactory = _ => Microsoft.Extensions.Logging.LogLevel.Information,
        HelpName = "LEVEL",
    };
}
