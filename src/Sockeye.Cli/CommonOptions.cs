using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Sockeye.Cli;

/// <summary>What 0 means for a <see cref="CommonOptions.Seconds"/> option.</summary>
internal enum ZeroSeconds
{
    /// <summary>0 is not a valid value.</summary>
    Refused,

    /// <summary>0 turns the timeout off.</summary>
    Off,

    /// <summary>0 means at once.</summary>
    Immediately,
}

/// <summary>Options more than one command takes, defined once so they read the same everywhere.</summary>
internal static class CommonOptions
{
    public const int DefaultPort = 11000;

    public static Option<int> Port(string description) => new("--port", "-p")
    {
        Description = description,
        DefaultValueFactory = _ => DefaultPort,
        CustomParser = result => ParsePort(result, "--port") ?? 0,
        HelpName = "N",
    };

    /// <summary>A port number from 0 to 65535; otherwise <see langword="null"/>, with a one-line error naming <paramref name="name"/>.</summary>
    public static int? ParsePort(ArgumentResult result, string name)
    {
        var text = result.Tokens[^1].Value;
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port <= 65535)
        {
            return port;
        }

        result.AddError($"{name} must be a number from 0 to 65535, not '{text}'.");
        return null;
    }

    /// <summary>A size option that takes plain bytes or a suffix (see <see cref="Cli.ByteSize"/>); its help shows the default as written.</summary>
    public static Option<ByteSize> ByteSize(string name, string description, long defaultBytes, long minimum = 1) => new(name)
    {
        Description = description,
        DefaultValueFactory = _ => new ByteSize(defaultBytes),
        CustomParser = result =>
        {
            var text = result.Tokens[^1].Value;
            if (Cli.ByteSize.TryParse(text, out var size) && size.Bytes >= minimum)
            {
                return size;
            }

            result.AddError($"{name} must be a size of at least {new ByteSize(minimum)} such as 65536, 64KiB or 1MB ({Cli.ByteSize.Meaning}), not '{text}'.");
            return default;
        },
        HelpName = "BYTES",
    };

    /// <summary>Refuses an empty or blank value of <paramref name="option"/> (<c>--host ''</c>) in one line, naming what it wants.</summary>
    public static TOption NotBlank<TOption>(this TOption option, string wanted)
        where TOption : Option
    {
        option.Validators.Add(result =>
        {
            if (result.Tokens.Any(token => string.IsNullOrWhiteSpace(token.Value)))
            {
                result.AddError($"{option.Name} needs {wanted}, not an empty value.");
            }
        });
        return option;
    }

    /// <summary>
    /// The longest duration a seconds option takes: 2^32 - 2 ms (about 49.7 days), the longest a .NET timer waits, and so
    /// the library's limit for every duration it takes.
    /// </summary>
    public const double MaxSeconds = 4_294_967.294;

    /// <summary>
    /// A duration option in seconds, decimals allowed, at most <see cref="MaxSeconds"/>. 0 is refused unless
    /// <paramref name="zero"/> says what it means.
    /// </summary>
    public static Option<double> Seconds(string name, string description, double defaultSeconds, ZeroSeconds zero = ZeroSeconds.Refused) => new(name)
    {
        Description = zero == ZeroSeconds.Off ? $"{description} 0 turns it off." : description,
        DefaultValueFactory = _ => defaultSeconds,
        CustomParser = result =>
        {
            var text = result.Tokens[^1].Value;
            if (double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds)
                && seconds <= MaxSeconds && (seconds > 0 || zero != ZeroSeconds.Refused))
            {
                return seconds;
            }

            var above = zero == ZeroSeconds.Refused ? " above 0" : string.Empty;
            var off = zero == ZeroSeconds.Off ? "; 0 turns it off" : string.Empty;
            result.AddError($"{name} must be a number of seconds{above} such as 30 or 2.5, at most 4294967 (about 49.7 days, the longest a timer waits){off}, not '{text}'.");
            return default;
        },
        HelpName = "SECONDS",
    };

    /// <summary>A whole-number option of at least <paramref name="minimum"/>, parsed without ever throwing on bad input.</summary>
    public static Option<int> WholeNumber(string name, string description, int defaultValue, int minimum, string? alias = null)
    {
        var option = alias is null ? new Option<int>(name) : new Option<int>(name, alias);
        option.Description = description;
        option.DefaultValueFactory = _ => defaultValue;
        option.HelpName = "N";
        option.CustomParser = result =>
        {
            var text = result.Tokens[^1].Value;
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= minimum)
            {
                return value;
            }

            result.AddError($"{name} must be a whole number of at least {minimum}, not '{text}'.");
            return defaultValue;
        };
        return option;
    }

    /// <summary>The names <c>--log-level</c> takes, least severe first, as <see cref="Microsoft.Extensions.Logging.LogLevel"/> names them.</summary>
    private static readonly string[] s_logLevels = ["trace", "debug", "information", "warning", "error", "critical", "none"];

    public static Option<LogLevel> LogLevel() => new Option<LogLevel>("--log-level")
    {
        Description = "The least severe log entry written to standard error: trace, debug, information, warning, error, critical or none.",
        DefaultValueFactory = _ => Microsoft.Extensions.Logging.LogLevel.Information,
        CustomParser = result =>
        {
            var text = result.Tokens[^1].Value;
            if (TryParseLogLevel(text, out var level))
            {
                return level;
            }

            result.AddError($"--log-level must be one of {string.Join(", ", s_logLevels[..^1])} or {s_logLevels[^1]}, not '{text}'.");
            return default;
        },
        HelpName = "LEVEL",
    }.AcceptsCompletions(s_logLevels);

    /// <summary>A level by its name, in any case; not Enum.TryParse, which would also take "2" or "Information, Error".</summary>
    public static bool TryParseLogLevel(string? text, out LogLevel level)
    {
        var index = Array.FindIndex(s_logLevels, name => name.Equals(text?.Trim(), StringComparison.OrdinalIgnoreCase));
        level = index < 0 ? default : (LogLevel)index;
        return index >= 0;
    }

    private static Option<T> AcceptsCompletions<T>(this Option<T> option, string[] values)
    {
        option.CompletionSources.Add(values);
        return option;
    }
}
