using System.Net;
using System.Net.Sockets;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Sockeye.Protocols;

namespace Sockeye.Hosting;

/// <summary>
/// What an endpoint configures besides its URL and handler: <c>ReusePort</c>, <c>DualMode</c>, <c>Tls</c> and
/// <c>ProxyProtocol</c>, each from the endpoint or else from <c>EndpointDefaults</c>. Errors name the key that holds the
/// bad value, in the endpoint or in the defaults.
/// </summary>
internal sealed class EndpointSettings
{
    public const string DefaultsKey = "EndpointDefaults";
    public const string TlsKey = "Tls";
    public const string ProxyProtocolKey = "ProxyProtocol";
    private const string EnabledKey = "Enabled";
    private const string CertificateKey = "Certificate";
    private const string PathKey = "Path";
    private const string KeyPathKey = "KeyPath";
    private const string PasswordKey = "Password";
    private const string PasswordFileKey = "PasswordFile";
    private const string ClientCertificateAuthoritiesKey = "ClientCertificateAuthorities";
    private const string TrustedProxiesKey = "TrustedProxies";
    private const string CipherSuitesKey = "CipherSuites";
    private const string SniKey = "Sni";
    private const string PlatformCipherSuites = "Platform";

    private static readonly IReadOnlyList<PropertyInfo> s_listenerSettings = SettingsBinder.Settings(typeof(ListenerOptions));
    private static readonly IReadOnlyList<PropertyInfo> s_tlsSettings = SettingsBinder.Settings(typeof(TlsOptions));
    private static readonly IReadOnlyList<PropertyInfo> s_proxySettings = SettingsBinder.Settings(typeof(ProxyProtocolOptions));
    private static readonly string[] s_tlsKeys = [EnabledKey, CertificateKey, ClientCertificateAuthoritiesKey, CipherSuitesKey, SniKey];
    private static readonly string[] s_certificateKeys = [PathKey, KeyPathKey, PasswordKey, PasswordFileKey];
    private static readonly string[] s_proxyKeys = [EnabledKey, TrustedProxiesKey];

    private readonly IConfigurationSection? _defaults;
    private readonly string _basePath;
    private readonly List<string> _errors;

    // Built once from the defaults alone and shared by every endpoint that sets nothing of its own: one certificate
    // load, one file watch.
    private (bool Built, TlsOptions? Options) _defaultTls;
    private (bool Built, ProxyProtocolOptions? Options) _defaultProxy;
    private bool _defaultTlsUsed;
    private bool _defaultProxyUsed;

    public EndpointSettings(IConfigurationSection? defaults, string basePath, List<string> errors)
    {
        _defaults = defaults is not null && defaults.Exists() ? defaults : null;
        _basePath = basePath;
        _errors = errors;
        if (_defaults is not null)
        {
            CheckEndpointKeys(_defaults, []);
        }
    }

    /// <summary>The keys an endpoint's section may have besides its Url and Handler.</summary>
    public static IEnumerable<string> Keys => s_listenerSettings.Select(property => property.Name).Append(TlsKey).Append(ProxyProtocolKey);

    /// <summary>Sets what <paramref name="endpoint"/> and the defaults configure on <paramref name="listener"/>.</summary>
    public void Apply(IConfigurationSection endpoint, ListenerOptions listener, string[] endpointKeys)
    {
        CheckEndpointKeys(endpoint, endpointKeys);
        var layers = new LayeredSection(endpoint, _defaults);
        foreach (var property in s_listenerSettings)
        {
            // A default ReusePort is for the TCP endpoints: a Unix domain socket has no SO_REUSEPORT.
            var own = layers.Own!.GetSection(property.Name);
            var setting = own.Exists() ? own
                : listener.EndPoint is UnixDomainSocketEndPoint && property.Name == nameof(ListenerOptions.ReusePort) ? null
                : layers.Whole(property.Name);
            if (setting is not null && SettingsBinder.TrySet(listener, property, setting.Value, setting.Path) is { } error)
            {
                _errors.Add(error);
            }
        }

        // Defaults that failed for an endpoint (a certificate that does not load) did apply to it: their error is the one.
        var tls = layers.Child(TlsKey);
        var errors = _errors.Count;
        listener.Tls = tls.FromDefaultsOnly ? DefaultTls(tls) : BindTls(tls);
        _defaultTlsUsed |= (listener.Tls is not null || _errors.Count > errors) && tls.Defaults is not null;
        var proxy = layers.Child(ProxyProtocolKey);
        errors = _errors.Count;
        listener.ProxyProtocol = proxy.FromDefaultsOnly ? DefaultProxy(proxy) : BindProxyProtocol(proxy);
        _defaultProxyUsed |= (listener.ProxyProtocol is not null || _errors.Count > errors) && proxy.Defaults is not null;
    }

    /// <summary>Reports defaults that no endpoint took: a setting that does nothing is a mistake to point out.</summary>
    public void Finish()
    {
        if (_defaults?.GetSection(TlsKey) is { } tls && tls.Exists() && !_defaultTlsUsed)
        {
            _errors.Add($"{tls.Path} applies to no endpoint: no endpoint has TLS on (a {TlsKey}:{CertificateKey}:{PathKey}).");
        }

        if (_defaults?.GetSection(ProxyProtocolKey) is { } proxy && proxy.Exists() && !_defaultProxyUsed)
        {
            _errors.Add($"{proxy.Path} applies to no endpoint: no endpoint has the PROXY protocol on ({ProxyProtocolKey}:{TrustedProxiesKey}).");
        }
    }

    private TlsOptions? DefaultTls(LayeredSection tls)
    {
        if (!_defaultTls.Built)
        {
            _defaultTls = (true, BindTls(tls));
        }

        return _defaultTls.Options;
    }

    private ProxyProtocolOptions? DefaultProxy(LayeredSection proxy)
    {
        if (!_defaultProxy.Built)
        {
            _defaultProxy = (true, BindProxyProtocol(proxy));
        }

        return _defaultProxy.Options;
    }

    private TlsOptions? BindTls(LayeredSection tls)
    {
        if (!tls.Exists || ReadEnabled(tls) is false)
        {
            return null;
        }

        var certificate = tls.Whole(CertificateKey);
        if (certificate?[PathKey] is not { Length: > 0 } path)
        {
            // Settings without a certificate are defaults for endpoints that have one; in an endpoint they are a mistake.
            if (certificate is not null || tls.Own is not null)
            {
                var where = certificate?.Path ?? tls.Own!.Path;
                _errors.Add($"{where}: TLS needs a certificate: {TlsKey}:{CertificateKey}:{PathKey} (a PEM or PKCS#12 file), with {KeyPathKey} for a PEM key in its own file.");
            }

            return null;
        }

        if (LoadCertificate(certificate, path) is not { } options)
        {
            return null;
        }

        // SNI, in Kestrel's shape: "Sni": { "api.example.com": { "Certificate": { "Path": ... } } }.
        foreach (var name in tls.Whole(SniKey)?.GetChildren() ?? [])
        {
            CheckKeys(name, [CertificateKey]);
            CheckKeys(name.GetSection(CertificateKey), s_certificateKeys);
            var nameCertificate = name.GetSection(CertificateKey);
            if (nameCertificate[PathKey] is not { Length: > 0 } namePath)
            {
                _errors.Add($"{name.Path}: a host name needs {CertificateKey}:{PathKey}.");
            }
            else if (LoadCertificate(nameCertificate, namePath) is { } loaded)
            {
                options.ServerNames[name.Key] = loaded;
            }
        }

        var errors = _errors.Count;
        var keys = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var property in s_tlsSettings)
        {
            if (tls.Whole(property.Name) is { } setting)
            {
                keys[property.Name] = setting.Path;
                if (SettingsBinder.TrySet(options, property, ListAsFlags(setting), setting.Path) is { } error)
                {
                    _errors.Add(error);
                }
            }
        }

        if (tls.Whole(CipherSuitesKey) is { } suites)
        {
            options.CipherSuites = ReadCipherSuites(suites);
        }

        if (tls.Whole(ClientCertificateAuthoritiesKey) is { } authorities)
        {
            LoadAuthorities(authorities, options);
        }

        // A value that did not parse is reported already, and may leave what the check would report again (no suites).
        if (_errors.Count == errors)
        {
            Check(options.Validate, keys, tls);
        }

        return options;
    }

    private TlsOptions? LoadCertificate(IConfigurationSection certificate, string path)
    {
        try
        {
            var password = certificate[PasswordFileKey] is { Length: > 0 } passwordFile ? ReadPassword(FullPath(passwordFile)) : certificate[PasswordKey];
            return TlsOptions.Load(FullPath(path), certificate[KeyPathKey] is { Length: > 0 } key ? FullPath(key) : null, password);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            _errors.Add($"{certificate.Path}: {ex.Message}");
            return null;
        }
    }

    /// <summary>
    /// Checks a TLS or PROXY section's options with the library's rules, where the keys are known: the error names the
    /// key that set the option, in the endpoint or in the defaults (<c>Sockeye:Endpoints:Main:Tls:HandshakeTimeout</c>),
    /// which the server's own check, later, could not.
    /// </summary>
    /// <param name="validate">The options' <c>Validate</c>.</param>
    /// <param name="keys">The key that set each option, by the option's name.</param>
    /// <param name="section">The section, for an option no one key set (SNI's host names).</param>
    private void Check(Action validate, Dictionary<string, string> keys, LayeredSection section)
    {
        try
        {
            validate();
        }
        catch (ArgumentException ex)
        {
            var key = ex.ParamName is { } name && keys.TryGetValue(name, out var path) ? path[..^(name.Length + 1)] : (section.Own ?? section.Defaults)!.Path;
            _errors.Add(SocketServerOptionsValidation.Describe(ex, key));
        }
    }

    /// <summary>Suite names (<c>TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256</c>), or <c>Platform</c> for the platform's own list.</summary>
    private List<System.Net.Security.TlsCipherSuite>? ReadCipherSuites(IConfigurationSection suites)
    {
        if (string.Equals(suites.Value, PlatformCipherSuites, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var list = new List<System.Net.Security.TlsCipherSuite>();
        foreach (var item in Items(suites))
        {
            if (item.Value!.StartsWith("TLS_", StringComparison.OrdinalIgnoreCase)
                && Enum.TryParse<System.Net.Security.TlsCipherSuite>(item.Value, ignoreCase: true, out var suite))
            {
                list.Add(suite);
            }
            else
            {
                _errors.Add($"{item.Path}: '{item.Value}' is not a cipher suite's IANA name, such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 (or {PlatformCipherSuites} for the platform's list).");
            }
        }

        return list;
    }

    private void LoadAuthorities(IConfigurationSection authorities, TlsOptions options)
    {
        if (options.ClientCertificateMode == ClientCertificateMode.None)
        {
            _errors.Add($"{authorities.Path} applies only when clients are asked for a certificate: set ClientCertificateMode to Allow or Require.");
            return;
        }

        foreach (var item in Items(authorities))
        {
            try
            {
                var before = options.ClientCertificateAuthorities.Count;
                options.ClientCertificateAuthorities.ImportFromPemFile(FullPath(item.Value!));
                if (options.ClientCertificateAuthorities.Count == before)
                {
                    _errors.Add($"{item.Path}: '{item.Value}' holds no PEM certificate.");
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
            {
                _errors.Add($"{item.Path}: cannot read certificate authorities from '{item.Value}': {ex.Message}");
            }
        }
    }

    private ProxyProtocolOptions? BindProxyProtocol(LayeredSection proxy)
    {
        var trusted = proxy.Whole(TrustedProxiesKey);
        if (!proxy.Exists || (ReadEnabled(proxy) ?? trusted is not null) is false)
        {
            return null;
        }

        if (trusted is null)
        {
            _errors.Add($"{proxy.Own?.Path ?? proxy.Defaults!.Path}: the PROXY protocol needs {TrustedProxiesKey}, the networks the proxies connect from, such as 10.0.0.0/8 (0.0.0.0/0 and ::/0 trust every peer).");
            return null;
        }

        var errors = _errors.Count;
        var options = new ProxyProtocolOptions();
        foreach (var item in Items(trusted))
        {
            if (TryParseNetwork(item.Value!, out var network, out var error))
            {
                options.TrustedProxies.Add(network);
            }
            else
            {
                _errors.Add($"{item.Path}: {error}");
            }
        }

        var keys = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var property in s_proxySettings)
        {
            if (proxy.Whole(property.Name) is { } setting)
            {
                keys[property.Name] = setting.Path;
                if (SettingsBinder.TrySet(options, property, setting.Value, setting.Path) is { } error)
                {
                    _errors.Add(error);
                }
            }
        }

        if (_errors.Count == errors)
        {
            Check(options.Validate, keys, proxy);
        }

        return options;
    }

    /// <summary>
    /// An address (a network of one) or a network in CIDR form. A network with bits set past its prefix is refused
    /// rather than silently widened: in a list of who may claim any client address, a typo must not pass.
    /// </summary>
    internal static bool TryParseNetwork(string text, out IPNetwork network, out string error)
    {
        error = $"'{text}' is not an IP address or a network such as 10.0.0.0/8 or fd00::/8.";
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (!IPAddress.TryParse(slash < 0 ? text : text[..slash], out var address))
        {
            network = default;
            return false;
        }

        if (slash < 0)
        {
            network = new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);
            return true;
        }

        if (!IPNetwork.TryParse(text, out network))
        {
            return false;
        }

        if (!network.BaseAddress.Equals(address))
        {
            error = $"'{text}' has address bits set past its prefix; write {network} for the network, or {address} for one address.";
            return false;
        }

        return true;
    }

    private bool? ReadEnabled(LayeredSection section)
    {
        if (section.Whole(EnabledKey) is not { } enabled)
        {
            return null;
        }

        if (bool.TryParse(enabled.Value, out var value))
        {
            return value;
        }

        // Off, so that the one error is this one rather than what an unintended section would add to it.
        _errors.Add($"{enabled.Path}: '{enabled.Value}' is not true or false.");
        return false;
    }

    /// <summary>A list (<c>["Tls12", "Tls13"]</c>) of an enum's flags, as the one value <c>"Tls12, Tls13"</c>.</summary>
    private static string? ListAsFlags(IConfigurationSection setting) =>
        setting.Value ?? string.Join(", ", setting.GetChildren().Select(item => item.Value));

    /// <summary>A list's items in order; a single value where a list belongs is a list of one.</summary>
    private static IEnumerable<IConfigurationSection> Items(IConfigurationSection list) =>
        list.Value is { Length: > 0 } ? [list] : list.GetChildren().Where(item => !string.IsNullOrEmpty(item.Value));

    private string FullPath(string path) => Path.GetFullPath(path, _basePath);

    private static string ReadPassword(string file)
    {
        using var reader = File.OpenText(file);
        return reader.ReadLine() ?? string.Empty;
    }

    /// <summary>Every key in an endpoint, or the defaults, and in its Tls and ProxyProtocol sections, must be a setting.</summary>
    private void CheckEndpointKeys(IConfigurationSection endpoint, string[] endpointKeys)
    {
        CheckKeys(endpoint, Keys.Concat(endpointKeys));
        CheckKeys(endpoint.GetSection(TlsKey), s_tlsSettings.Select(property => property.Name).Concat(s_tlsKeys));
        CheckKeys(endpoint.GetSection(TlsKey).GetSection(CertificateKey), s_certificateKeys);
        CheckKeys(endpoint.GetSection(ProxyProtocolKey), s_proxySettings.Select(property => property.Name).Concat(s_proxyKeys));
    }

    private void CheckKeys(IConfigurationSection section, IEnumerable<string> known)
    {
        var names = known.ToList();
        foreach (var child in section.GetChildren())
        {
            if (!names.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
            {
                _errors.Add(SockeyeConfiguration.NotASetting(child.Path, names));
            }
        }
    }
}
