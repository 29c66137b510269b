using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace Sockeye.Cli;

/// <summary>
/// Flags and the configuration key they set. Given on the command line, a flag's value goes into the configuration's
/// top layer, above the file and the environment; whoever reads the key then sees it.
/// </summary>
internal interface IConfigBinding
{
    /// <summary>The key, or the section, the flags set.</summary>
    string Key { get; }

    /// <summary>The flags.</summary>
    IEnumerable<Option> Options { get; }

    /// <summary>Adds the flags' values to <paramref name="flags"/>, by configuration key, if the command line gave them.</summary>
    /// <exception cref="CliException">A value that parsed is still not one the setting takes.</exception>
    void AddIfGiven(ParseResult parse, IDictionary<string, string?> flags);
}

/// <summary>
/// A setting of the tool's own, under <c>Sockeye:Serve</c>: a configured value is read as if it had been given as the
/// flag, so it is held to exactly the flag's rules.
/// </summary>
internal interface IToolSetting : IConfigBinding
{
    Option Option { get; }

    /// <summary>The configured value as the flag's arguments (<c>--name=value</c>), each checked by the flag's parser.</summary>
    /// <exception cref="CliException">A configured value is not one the flag would take.</exception>
    IReadOnlyList<string> Arguments(IConfiguration configuration);

    /// <summary>The value in effect, default included, as configuration keys and values.</summary>
    IEnumerable<KeyValuePair<string, string?>> EffectiveValues(ParseResult resolved);
}

/// <summary>A flag that is a setting of the tool's own; see <see cref="IToolSetting"/>.</summary>
internal sealed class ConfigBinding<T>(Option<T> option, string key, Func<T, string> format) : IToolSetting
{
    public string Key { get; } = key;

    public Option Option => option;

    public IEnumerable<Option> Options => [option];

    public void AddIfGiven(ParseResult parse, IDictionary<string, string?> flags)
    {
        if (parse.GetResult(option) is { Implicit: false })
        {
            flags[Key] = format(parse.GetValue(option)!);
        }
    }

    public KeyValuePair<string, string?> Effective(IConfiguration configuration) => new(Key, format(Read(configuration)));

    public IEnumerable<KeyValuePair<string, string?>> EffectiveValues(ParseResult resolved) =>
        [new(Key, resolved.GetValue(option) is { } value ? format(value) : null)];

    /// <summary>The value: from the configuration, or the flag's default when no source sets it.</summary>
    /// <exception cref="CliException">The configured value is not one the flag would take.</exception>
    public T Read(IConfiguration configuration) => ParseConfigured(configuration, out _).GetValue(option)!;

    public IReadOnlyList<string> Arguments(IConfiguration configuration)
    {
        ParseConfigured(configuration, out var arguments);
        return arguments;
    }

    private ParseResult ParseConfigured(IConfiguration configuration, out IReadOnlyList<string> arguments)
    {
        // An empty value is no value: it is how JSON's null reads, and how --print-config shows a setting left unset.
        var text = configuration[Key];
        arguments = string.IsNullOrEmpty(text) ? [] : [FlagParser.Argument(option, text)];
        return FlagParser.Parse(option, arguments, Key, text);
    }
}

/// <summary>
/// A repeatable flag that is a setting of the tool's own: a list, <c>Key:0</c>, <c>Key:1</c>, ..., as configuration
/// writes JSON arrays. Given on the command line, the flag's list replaces the configured one (see <see cref="CliConfiguration"/>).
/// </summary>
internal sealed class ConfigListBinding<T>(Option<T[]> option, string key, Func<T, string> format) : IToolSetting
{
    public string Key { get; } = key;

    public Option Option => option;

    public IEnumerable<Option> Options => [option];

    public void AddIfGiven(ParseResult parse, IDictionary<string, string?> flags)
    {
        if (parse.GetResult(option) is { Implicit: false })
        {
            var values = parse.GetValue(option) ?? [];
            for (var i = 0; i < values.Length; i++)
            {
                flags[ConfigurationPath.Combine(Key, i.ToString(CultureInfo.InvariantCulture))] = format(values[i]);
            }
        }
    }

    public IReadOnlyList<string> Arguments(IConfiguration configuration)
    {
        var arguments = new List<string>();
        foreach (var item in Items(configuration))
        {
            var argument = FlagParser.Argument(option, item.Value!);
            FlagParser.Parse(option, [argument], item.Path, item.Value);
            arguments.Add(argument);
        }

        return arguments;
    }

    public IEnumerable<KeyValuePair<string, string?>> EffectiveValues(ParseResult resolved)
    {
        var values = resolved.GetValue(option) ?? [];
        return values.Length == 0
            ? [new(Key, null)]
            : values.Select((value, i) => new KeyValuePair<string, string?>(ConfigurationPath.Combine(Key, i.ToString(CultureInfo.InvariantCulture)), format(value)));
    }

    /// <summary>The list's items in order; a single value where a list belongs is a list of one.</summary>
    private IEnumerable<IConfigurationSection> Items(IConfiguration configuration)
    {
        var section = configuration.GetSection(Key);
        if (!string.IsNullOrEmpty(section.Value))
        {
            return [section];
        }

        return section.GetChildren()
            .Where(item => !string.IsNullOrEmpty(item.Value))
            .OrderBy(item => int.TryParse(item.Key, NumberStyles.None, CultureInfo.InvariantCulture, out var index) ? index : int.MaxValue)
            .ThenBy(item => item.Key, StringComparer.Ordinal);
    }
}

/// <summary>Reads a configured value with a flag's own parser.</summary>
internal static class FlagParser
{
    /// <summary>"--name=value": a value that starts with '-' or '@' stays a value, never an option or a response file.</summary>
    public static string Argument(Option option, string value) => $"{option.Name}={value}";

    public static ParseResult Parse(Option option, IReadOnlyList<string> arguments, string key, string? text)
    {
        var parse = new RootCommand { option }.Parse(arguments, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parse.Errors.Count > 0)
        {
            throw new CliException($"{key} '{text}': {OneLine(parse.Errors[0].Message)}", ExitCodes.Usage);
        }

        return parse;
    }

    /// <summary>Some parser messages list choices on several lines; an error is one line.</summary>
    public static string OneLine(string message) =>
        string.Join(' ', message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
