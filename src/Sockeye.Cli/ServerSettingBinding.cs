using System.CommandLine;

namespace Sockeye.Cli;

/// <summary>
/// A flag that sets keys of the <c>Sockeye</c> section Sockeye.Hosting reads, as a hosted application's
/// appsettings.json would: a server setting (<c>Sockeye:IdleTimeout</c>) or an endpoint default
/// (<c>Sockeye:EndpointDefaults:Tls:Certificate:Path</c>). The tool reads none of them itself: the server does, and holds
/// a configured value to its own rules.
/// </summary>
/// <param name="option">The flag.</param>
/// <param name="key">The key it sets, or the first of them.</param>
/// <param name="values">The keys and values that the flag's value sets.</param>
internal sealed class ServerSettingBinding<T>(Option<T> option, string key, Func<T, IEnumerable<KeyValuePair<string, string?>>> values) : IConfigBinding
{
    public string Key { get; } = key;

    public IEnumerable<Option> Options => [option];

    public void AddIfGiven(ParseResult parse, IDictionary<string, string?> flags)
    {
        if (parse.GetResult(option) is { Implicit: false })
        {
            foreach (var (name, value) in values(parse.GetValue(option)!))
            {
                flags[name] = value;
            }
        }
    }
}
