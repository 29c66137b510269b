using System.Collections;
using System.CommandLine;
using System.CommandLine.Parsing;
using Microsoft.Extensions.Configuration;

namespace Sockeye.Cli;

/// <summary>
/// Every <c>serve</c> flag and the configuration key it sets: the one list a new flag joins, in one line. A flag that is
/// a <see cref="SocketServerOptions"/> setting is a <see cref="ServerSettingBinding{T}"/> (key <c>Sockeye:Name</c>, read
/// by Sockeye.Hosting); any other is a setting of the tool's own, a <see cref="ConfigBinding{T}"/> or
/// <see cref="ConfigListBinding{T}"/> under <c>Sockeye:Serve</c>, read back through the flag's own parser.
/// </summary>
internal sealed class ServeSettings : IEnumerable<IConfigBinding>
{
    public const string Section = CliConfiguration.ServeSection;

    private readonly List<IConfigBinding> _bindings = [];

    // The tool's settings once every source is merged, and the rules about which go together: checked here rather than
    // on the command line alone, where a flag's partner may be in the file.
    private readonly Command _merged = new("serve");

    /// <summary>A setting of the tool's own, <c>Sockeye:Serve:<paramref name="name"/></c>.</summary>
    public static ConfigBinding<T> Tool<T>(Option<T> option, string name, Func<T, string>? format = null) =>
        new(option, $"{Section}:{name}", format ?? (value => Format(value)!));

    /// <summary>A repeatable flag of the tool's own, the list <c>Sockeye:Serve:<paramref name="name"/></c>.</summary>
    public static ConfigListBinding<T> ToolList<T>(Option<T[]> option, string name, Func<T, string>? format = null) =>
        new(option, $"{Section}:{name}", format ?? (value => Format(value)!));

    /// <summary>A <see cref="SocketServerOptions"/> setting, <c>Sockeye:<paramref name="setting"/></c>.</summary>
    public static ServerSettingBinding<T> Server<T>(Option<T> option, string setting, Action<SocketServerOptions, T> apply) =>
        new(option, setting, apply);

    public void Add(IConfigBinding binding)
    {
        _bindings.Add(binding);
        if (binding is IToolSetting tool)
        {
            _merged.Options.Add(tool.Option);
        }
    }

    public void Add(IEnumerable<IConfigBinding> bindings)
    {
        foreach (var binding in bindings)
        {
            Add(binding);
        }
    }

    /// <summary>
    /// A rule about settings of the tool's own that go together, checked once every source is merged; its error names
    /// the flags, which are also the keys' names.
    /// </summary>
    public void AddRule(Action<CommandResult> rule) => _merged.Validators.Add(rule);

    /// <summary>Every flag, in the order the settings were added.</summary>
    public IEnumerable<Option> Options => _bindings.SelectMany(binding => binding.Options);

    /// <summary>The settings of the tool's own.</summary>
    public IEnumerable<IToolSetting> ToolSettings => _bindings.OfType<IToolSetting>();

    /// <summary>The flags the command line gave, by configuration key: the top layer of <see cref="CliConfiguration"/>.</summary>
    /// <exception cref="CliException">A flag's value cannot be a setting (a <c>--host</c> that is no address).</exception>
    public Dictionary<string, string?> FlagsGiven(ParseResult parse)
    {
        var flags = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var binding in _bindings)
        {
            binding.AddIfGiven(parse, flags);
        }

        return flags;
    }

    /// <summary>
    /// The tool's own settings from every source, parsed and checked as one command line would be: read the values
    /// with <c>GetValue</c> of their flags.
    /// </summary>
    /// <exception cref="CliException">A key under <c>Sockeye:Serve</c> is no setting, a value is not one its flag would take, or settings do not go together.</exception>
    public ParseResult Resolve(IConfiguration configuration)
    {
        CheckKeys(configuration.GetSection(Section));
        var arguments = ToolSettings.SelectMany(setting => setting.Arguments(configuration)).ToList();
        var merged = _merged.Parse(arguments, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (merged.Errors.Count > 0)
        {
            throw new CliException(FlagParser.OneLine(merged.Errors[0].Message), ExitCodes.Usage);
        }

        return merged;
    }

    /// <summary>The tool's own settings in effect, defaults included, as configuration keys and values.</summary>
    public IEnumerable<KeyValuePair<string, string?>> Effective(ParseResult resolved) =>
        ToolSettings.SelectMany(setting => setting.EffectiveValues(resolved));

    public IEnumerator<IConfigBinding> GetEnumerator() => _bindings.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>A default's configuration value: numbers in the invariant culture, booleans as JSON writes them.</summary>
    private static string? Format<T>(T value) => value switch
    {
        bool flag => flag ? "true" : "false",
        FileSystemInfo file => file.FullName,
        IFormattable formattable => formattable.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value?.ToString(),
    };

    /// <summary>A misspelt key must not pass unnoticed, as in the rest of the <c>Sockeye</c> section.</summary>
    private void CheckKeys(IConfigurationSection serve)
    {
        var names = ToolSettings.Select(setting => setting.Key[(Section.Length + 1)..]).ToList();
        foreach (var child in serve.GetChildren())
        {
            if (!names.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
            {
                throw new CliException(
                    $"{child.Path} is not a setting here; the settings are {string.Join(", ", names.Order(StringComparer.Ordinal))}.",
                    ExitCodes.Usage);
            }
        }
    }
}
