using System.CommandLine;
using Sockeye.Hosting;

namespace Sockeye.Cli;

/// <summary>
/// A flag that is a <see cref="SocketServerOptions"/> setting: given on the command line, it sets the key of the same
/// name in the <c>Sockeye</c> section, written as Sockeye.Hosting reads it (bytes, seconds, <c>Infinite</c>), and the
/// server reads it from there as a hosted application would. A configured value is held to Sockeye.Hosting's rules.
/// </summary>
/// <param name="option">The flag.</param>
/// <param name="setting">The <see cref="SocketServerOptions"/> property, such as <c>nameof(SocketServerOptions.IdleTimeout)</c>.</param>
/// <param name="apply">Sets the property as the flag means it, such as 0 seconds for off.</param>
internal sealed class ServerSettingBinding<T>(Option<T> option, string setting, Action<SocketServerOptions, T> apply) : IConfigBinding
{
    public string Key { get; } = $"{SockeyeConfiguration.SectionName}:{setting}";

    public IEnumerable<Option> Options => [option];

    public void AddIfGiven(ParseResult parse, IDictionary<string, string?> flags)
    {
        if (parse.GetResult(option) is { Implicit: false })
        {
            flags[Key] = Format(parse.GetValue(option)!);
        }
    }

    /// <summary>The flag's value as the configuration value that sets the same; an unset nullable is empty.</summary>
    public string Format(T value)
    {
        // The library writes its own settings, so the format is the one its binder reads by construction.
        var options = new SocketServerOptions();
        apply(options, value);
        foreach (var (name, text) in SockeyeConfiguration.ToConfiguration(options))
        {
            if (name == setting)
            {
                return text ?? string.Empty;
            }
        }

        throw new InvalidOperationException($"{setting} is not a setting of {nameof(SocketServerOptions)}.");
    }
}
