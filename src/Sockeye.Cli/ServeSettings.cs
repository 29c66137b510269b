using System.Collections;
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Sockeye.Hosting;

namespace Sockeye.Cli;

/// <summary>
/// Every <c>serve</c> flag and the configuration key it sets: the one list a new flag joins, in one line. A flag that is
/// a server or endpoint setting is a <see cref="ServerSettingBinding{T}"/> (key <c>Sockeye:Name</c> or
/// <c>Sockeye:EndpointDefaults:Name</c>, read by Sockeye.Hosting); any other is a setting of the tool's own, a <see cref="ConfigBinding{T}"/> or
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
    /// <param name="option">The flag.</param>
    /// <param name="setting">The <see cref="SocketServerOptions"/> property, such as <c>nameof(SocketServerOptions.IdleTimeout)</c>.</param>
    /// <param name="apply">Sets the property as the flag means it, such as 0 seconds for off.</param>
    public static ServerSettingBinding<T> Server<T>(Option<T> option, string setting, Action<SocketServerOptions, T> apply)
    {
        var key = ConfigurationPath.Combine(SockeyeConfiguration.SectionName, setting);
        return new(option, key, value =>
        {
            // The library writes its own settings, so the format is the one its binder reads by construction.
            var options = new SocketServerOptions();
            apply(options, value);
            var text = SockeyeConfiguration.ToConfiguration(options).Single(pair => pair.Key == setting).Value;
            return [new(key, text ?? string.Empty)];
        });
    }

    /// <summary>
    /// A setting of every endpoint, <c>Sockeye:EndpointDefaults:<paramref name="key"/></c>; an endpoint's own
    /// configuration may override it. More keys may go with it (relative to the defaults too).
    /// </summary>
    public static ServerSettingBinding<T> EndpointDefault<T>(Option<T> option, string key, params (string Key, string Value)[] with) =>
        new(option, EndpointDefaultsKey(key), value => [new(EndpointDefaultsKey(key), Format(value)), .. with.Select(pair => new KeyValuePair<string, string?>(EndpointDefaultsKey(pair.Key), pair.Value))]);

    /// <summary>A repeatable flag that is a list of every endpoint's, <c>Sockeye:EndpointDefaults:<paramref name="key"/>:0</c>, <c>:1</c>, ...</summary>
    public static ServerSettingBinding<T[]> EndpointDefaultList<T>(Option<T[]> option, string key) =>
        new(option, EndpointDefaultsKey(key), values => values.Select((value, i) =>
            new KeyValuePair<string, string?>(ConfigurationPath.Combine(EndpointDefaultsKey(key), i.ToString(CultureInfo.InvariantCulture)), Format(value))));

    private static string EndpointDefaultsKey(string key) => ConfigurationPath.Combine(SockeyeConfiguration.SectionName, "EndpointDefaults", key);

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

    /// <summary>A flag's value as configuration writes it: as Sockeye.Hosting does, and a file by its full path.</summary>
    private static string? Format<T>(T value) => value is FileSystemInfo file ? file.FullName : SettingsBinder.Format(value);

    /// <summary>A misspelt key must not pass unnoticed, as in the rest of the <c>Sockeye</c> section.</summary>
    private void CheckKeys(IConfigurationSection serve)
    {
        var names = ToolSettings.Select(setting => setting.Key[(Section.Length + 1)..]).ToList();
        foreach (var child in serve.GetChildren())
        {
            if (!names.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
            {
                throw new CliException(SockeyeConfiguration.NotASetting(child.Path, names), ExitCodes.Usage);
            }
        }
    }
}
