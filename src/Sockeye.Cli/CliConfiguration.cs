using System.Collections;
using Microsoft.Extensions.Configuration;
using Sockeye.Hosting;

namespace Sockeye.Cli;

/// <summary>
/// The tool's configuration, lowest precedence first: <c>appsettings.json</c> beside the tool (or the file
/// <c>--config</c> names), then <c>SOCKEYE__</c> environment variables, then the flags on the command line. It all
/// lives in the <c>Sockeye</c> section: the server's settings exactly as Sockeye.Hosting reads them, and the tool's
/// own under <c>Sockeye:Serve</c>. One appsettings.json serves a hosted application and the tool alike.
/// </summary>
internal sealed class CliConfiguration
{
    public const string FileName = "appsettings.json";
    public const string EnvironmentPrefix = "SOCKEYE__";
    public const string ServeSection = SockeyeConfiguration.SectionName + ":Serve";
    private const string EndpointsSection = SockeyeConfiguration.SectionName + ":Endpoints";

    private CliConfiguration(IConfigurationRoot root, string? file)
    {
        Root = root;
        FilePath = file;
    }

    /// <summary>Every source merged.</summary>
    public IConfigurationRoot Root { get; }

    /// <summary>The file read, if there was one.</summary>
    public string? FilePath { get; }

    /// <summary>The tool's own settings.</summary>
    public IConfigurationSection Serve => Root.GetSection(ServeSection);

    /// <summary>The file read when <c>--config</c> names none.</summary>
    public static string DefaultFile => Path.Combine(AppContext.BaseDirectory, FileName);

    /// <summary>Reads the sources.</summary>
    /// <param name="configFile">The <c>--config</c> file, which must exist; <see langword="null"/> for appsettings.json beside the tool, if there is one.</param>
    /// <param name="environment">The environment variables, as <see cref="Environment.GetEnvironmentVariables()"/> gives them.</param>
    /// <param name="flags">The settings given as flags, by configuration key.</param>
    /// <exception cref="CliException">The file is missing or is not valid JSON.</exception>
    public static CliConfiguration Load(string? configFile, IDictionary environment, IReadOnlyDictionary<string, string?> flags)
    {
        if (configFile is not null && !File.Exists(configFile))
        {
            throw new CliException($"--config: there is no file '{configFile}'.", ExitCodes.Usage);
        }

        var file = Path.GetFullPath(configFile ?? DefaultFile);
        var lower = new ConfigurationBuilder();
        if (File.Exists(file))
        {
            lower.AddJsonFile(file, optional: false, reloadOnChange: false);
        }

        IConfigurationRoot fileAndEnvironment;
        try
        {
            fileAndEnvironment = lower.AddInMemoryCollection(FromEnvironment(environment)).Build();
        }
        catch (InvalidDataException ex)
        {
            // "Failed to load configuration from file ..." wraps "Could not parse the JSON file", which wraps the
            // parser's message: the one that says where the JSON is wrong.
            throw new CliException($"{file}: {FlagParser.OneLine(ex.GetBaseException().Message)}", ExitCodes.Usage);
        }

        // A list the flags give (endpoints, trusted proxies) replaces the configured one rather than merging into it
        // item by item, as layered configuration otherwise would.
        var replaced = flags.Keys.Select(ListSection).OfType<string>().Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        var kept = Values(fileAndEnvironment).Where(pair => !replaced.Any(section => IsUnder(pair.Key, section)));
        var root = new ConfigurationBuilder().AddInMemoryCollection(kept).AddInMemoryCollection(flags).Build();
        return new CliConfiguration(root, File.Exists(file) ? file : null);
    }

    /// <summary><c>SOCKEYE__MAXMESSAGESIZE=100</c> is <c>Sockeye:MAXMESSAGESIZE</c>; keys are not case-sensitive.</summary>
    public static IEnumerable<KeyValuePair<string, string?>> FromEnvironment(IDictionary environment)
    {
        foreach (DictionaryEntry variable in environment)
        {
            if (variable.Key is string name && name.Length > EnvironmentPrefix.Length && name.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase))
            {
                var key = name[EnvironmentPrefix.Length..].Replace("__", ConfigurationPath.KeyDelimiter, StringComparison.Ordinal);
                yield return new(ConfigurationPath.Combine(SockeyeConfiguration.SectionName, key), variable.Value as string);
            }
        }
    }

    /// <summary>
    /// The configuration the server reads: the <c>Sockeye</c> section without the tool's own settings; with no endpoint
    /// anywhere, <paramref name="defaultEndpointUrl"/> is the one.
    /// </summary>
    public IConfiguration ForServer(string defaultEndpointUrl)
    {
        var settings = Values(Root).Where(pair => IsUnder(pair.Key, SockeyeConfiguration.SectionName) && !IsUnder(pair.Key, ServeSection));
        if (!Root.GetSection(EndpointsSection).GetChildren().Any())
        {
            settings = settings.Append(new($"{EndpointsSection}:Default:Url", defaultEndpointUrl));
        }

        return new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
    }

    /// <summary>The section of the list an indexed key is an item of: <c>Sockeye:Endpoints</c> for <c>Sockeye:Endpoints:0:Url</c>.</summary>
    private static string? ListSection(string key)
    {
        var segments = key.Split(ConfigurationPath.KeyDelimiter);
        var index = Array.FindIndex(segments, 1, segment => segment.Length > 0 && segment.All(char.IsAsciiDigit));
        return index < 0 ? null : string.Join(ConfigurationPath.KeyDelimiter, segments[..index]);
    }

    /// <summary>
    /// The settings, as keys and values. JSON's <c>null</c> is a key without a value, which copying values alone would
    /// drop: it becomes the empty value, which clears a setting as <c>null</c> means to.
    /// </summary>
    private static IEnumerable<KeyValuePair<string, string?>> Values(IConfiguration configuration)
    {
        var pairs = configuration.AsEnumerable().ToList();
        var sections = pairs.Select(pair => ConfigurationPath.GetParentPath(pair.Key)).OfType<string>().ToHashSet(StringComparer.OrdinalIgnoreCase);
        return pairs
            .Where(pair => pair.Value is not null || (!sections.Contains(pair.Key) && pair.Key.Contains(ConfigurationPath.KeyDelimiter, StringComparison.Ordinal)))
            .Select(pair => new KeyValuePair<string, string?>(pair.Key, pair.Value ?? string.Empty));
    }

    private static bool IsUnder(string key, string section) =>
        key.Length > section.Length && key[section.Length] == ':' && key.StartsWith(section, StringComparison.OrdinalIgnoreCase);
}
