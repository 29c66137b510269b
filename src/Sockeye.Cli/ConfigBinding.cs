using System.CommandLine;
using Microsoft.Extensions.Configuration;

namespace Sockeye.Cli;

/// <summary>A flag that is also a configuration key; see <see cref="ConfigBinding{T}"/>.</summary>
internal interface IConfigBinding
{
    string Key { get; }

    /// <summary>Adds the flag's value to <paramref name="flags"/> if the command line gave it.</summary>
    void AddIfGiven(ParseResult parse, IDictionary<string, string?> flags);

    /// <summary>The value in effect, as a configuration value.</summary>
    /// <exception cref="CliException">The configured value is not one the flag would take.</exception>
    KeyValuePair<string, string?> Effective(IConfiguration configuration);
}

/// <summary>
/// A flag that is also a configuration key. Given on the command line it overrides every other source; otherwise its
/// value comes from the configuration and is parsed and checked by the option itself, so a value in a file or the
/// environment is held to exactly the rules of the flag.
/// </summary>
internal sealed class ConfigBinding<T>(Option<T> option, string key, Func<T, string> format) : IConfigBinding
{
    public string Key { get; } = key;

    public void AddIfGiven(ParseResult parse, IDictionary<string, string?> flags)
    {
        if (parse.GetResult(option) is { Implicit: false })
        {
            flags[Key] = format(parse.GetValue(option)!);
        }
    }

    public KeyValuePair<string, string?> Effective(IConfiguration configuration) => new(Key, format(Read(configuration)));

    /// <summary>The value: from the configuration, or the flag's default when no source sets it.</summary>
    /// <exception cref="CliException">The configured value is not one the flag would take.</exception>
    public T Read(IConfiguration configuration)
    {
        var text = configuration[Key];

        // "--name=value": a value that starts with '-' or '@' stays a value, never an option or a response file.
        var parse = new RootCommand { option }.Parse(
            text is null ? [] : [$"{option.Name}={text}"],
            new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parse.Errors.Count > 0)
        {
            var message = string.Join(' ', parse.Errors[0].Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            throw new CliException($"{Key} '{text}': {message}", ExitCodes.Usage);
        }

        return parse.GetValue(option)!;
    }
}
