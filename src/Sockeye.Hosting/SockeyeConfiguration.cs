using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Sockeye.Hosting;

/// <summary>
/// The <c>Sockeye</c> configuration section, read into <see cref="SocketServerOptions"/> and written back.
/// </summary>
/// <remarks>
/// <para>
/// Endpoints go under <c>Endpoints</c>, by name, each with a <c>Url</c> (<c>tcp://0.0.0.0:5000</c>,
/// <c>tcp://[::1]:5000</c>, <c>tcp://localhost:5000</c>, <c>tcp://*:5000</c> or <c>unix:/run/app.sock</c>) and
/// optionally the name of a <c>Handler</c> registered with <see cref="SockeyeBuilder.AddHandler{THandler}(string)"/>.
/// An endpoint may also be just its URL: <c>"Endpoints": [ "tcp://localhost:5000" ]</c>.
/// </para>
/// <para>
/// Every other key is the <see cref="SocketServerOptions"/> property of that name: sizes in bytes, durations in
/// seconds (<c>30</c>, <c>2.5</c>), as <c>00:00:30</c>, or <c>Infinite</c>. A key that is none of these is an error, so
/// a misspelt setting cannot pass unnoticed.
/// </para>
/// </remarks>
/// <example>
/// <code>
/// {
///   "Sockeye": {
///     "Endpoints": { "Main": { "Url": "tcp://0.0.0.0:5000" }, "Admin": { "Url": "tcp://localhost:5001", "Handler": "admin" } },
///     "MaxMessageSize": 65536,
///     "ShutdownTimeout": 10
///   }
/// }
/// </code>
/// </example>
public static class SockeyeConfiguration
{
    /// <summary>The name of the configuration section <c>AddSockeye</c> reads: <c>Sockeye</c>.</summary>
    public const string SectionName = "Sockeye";

    private const string EndpointsKey = "Endpoints";
    private const string UrlKey = "Url";
    private const string HandlerKey = "Handler";

    private static readonly IReadOnlyList<PropertyInfo> s_serverSettings = SettingsBinder.Settings(typeof(SocketServerOptions));
    private static readonly IReadOnlyList<PropertyInfo> s_listenerSettings = SettingsBinder.Settings(typeof(ListenerOptions));

    /// <summary>Applies a <c>Sockeye</c> section to <paramref name="options"/>: adds its endpoints and sets its settings.</summary>
    /// <param name="section">The section, such as <c>configuration.GetSection("Sockeye")</c>.</param>
    /// <param name="options">The options to change.</param>
    /// <param name="handlers">Finds the handler an endpoint names; <see langword="null"/> when none may be named.</param>
    /// <exception cref="OptionsValidationException">
    /// The section has keys that are not settings, values that do not parse, or handler names that are not registered;
    /// the exception lists them all, each with its configuration path.
    /// </exception>
    public static void Bind(IConfiguration section, SocketServerOptions options, Func<string, ConnectionHandler?>? handlers = null) =>
        BindRelativeTo(section, options, handlers, Directory.GetCurrentDirectory());

    /// <summary>As the public <c>Bind</c>, with relative file paths (certificates, keys) read from <paramref name="basePath"/>.</summary>
    internal static void BindRelativeTo(IConfiguration section, SocketServerOptions options, Func<string, ConnectionHandler?>? handlers, string basePath)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        var endpointSettings = new EndpointSettings(section.GetSection(EndpointSettings.DefaultsKey), basePath, errors);
        foreach (var child in section.GetChildren())
        {
            if (IsKey(child, EndpointsKey))
            {
                BindEndpoints(child, options, handlers, endpointSettings, errors);
            }
            else if (!IsKey(child, EndpointSettings.DefaultsKey))
            {
                BindSetting(child, options, s_serverSettings, [EndpointsKey, EndpointSettings.DefaultsKey], errors);
            }
        }

        endpointSettings.Finish();

        if (errors.Count > 0)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(SocketServerOptions), errors);
        }
    }

    /// <summary>
    /// The settings of <paramref name="options"/> as configuration keys (relative to the section) and values, in the
    /// form <see cref="Bind"/> reads: every setting, defaults included, and each endpoint's URL by its position.
    /// </summary>
    /// <param name="options">The options to describe.</param>
    /// <returns>The keys and values, endpoints first, then settings in alphabetical order.</returns>
    public static IEnumerable<KeyValuePair<string, string?>> ToConfiguration(SocketServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        for (var i = 0; i < options.Listeners.Count; i++)
        {
            var listener = options.Listeners[i];
            var prefix = $"{EndpointsKey}:{i}:";
            yield return new(prefix + UrlKey, EndpointUrl.Format(listener));
            foreach (var property in s_listenerSettings)
            {
                yield return new(prefix + property.Name, SettingsBinder.Format(property.GetValue(listener)));
            }
        }

        foreach (var property in s_serverSettings)
        {
            yield return new(property.Name, SettingsBinder.Format(property.GetValue(options)));
        }
    }

    private static void BindEndpoints(
        IConfigurationSection endpoints, SocketServerOptions options, Func<string, ConnectionHandler?>? handlers, EndpointSettings endpointSettings, List<string> errors)
    {
        foreach (var endpoint in endpoints.GetChildren())
        {
            // An endpoint is a section with a Url, or just its URL.
            if (EndpointUrl.TryListen(options, endpoint.Value ?? endpoint[UrlKey], out var listener) is { } error)
            {
                errors.Add($"{endpoint.Path}: {error}.");
                continue;
            }

            endpointSettings.Apply(endpoint, listener!, [UrlKey, HandlerKey]);
            if (endpoint.GetChildren().FirstOrDefault(setting => IsKey(setting, HandlerKey)) is { } handler)
            {
                listener!.Handler = FindHandler(handler, handlers, errors);
            }
        }
    }

    private static void BindSetting(IConfigurationSection setting, object target, IReadOnlyList<PropertyInfo> settings, string[] otherKeys, List<string> errors)
    {
        var property = settings.FirstOrDefault(property => IsKey(setting, property.Name));
        if (property is null)
        {
            errors.Add(NotASetting(setting.Path, settings.Select(property => property.Name).Concat(otherKeys)));
        }
        else if (SettingsBinder.TrySet(target, property, setting.Value, setting.Path) is { } error)
        {
            errors.Add(error);
        }
    }

    private static ConnectionHandler? FindHandler(IConfigurationSection setting, Func<string, ConnectionHandler?>? handlers, List<string> errors)
    {
        var name = setting.Value;
        if (string.IsNullOrWhiteSpace(name))
        {
            errors.Add($"{setting.Path}: the handler needs a name.");
            return null;
        }

        if (handlers?.Invoke(name) is { } handler)
        {
            return handler;
        }

        errors.Add($"{setting.Path}: no handler is registered as '{name}'; register one with AddSockeye(...).AddHandler<THandler>(\"{name}\").");
        return null;
    }

    /// <summary>The error for a key that is no setting: it lists the ones there are, so a misspelling is plain to see.</summary>
    internal static string NotASetting(string path, IEnumerable<string> settings) =>
        $"{path} is not a setting here; the settings are {string.Join(", ", settings.Order(StringComparer.Ordinal))}.";

    private static bool IsKey(IConfigurationSection section, string key) => section.Key.Equals(key, StringComparison.OrdinalIgnoreCase);
}
