using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using Sockeye.Protocols;

namespace Sockeye.Cli;

/// <summary>
/// <c>sockeye serve</c>'s listener flags: SO_REUSEPORT, the PROXY protocol and TLS. They apply to every listener serve
/// opens, configured or given as flags (<see cref="EndpointFlags"/>), and are settings of the tool's own under
/// <c>Sockeye:Serve</c>.
/// </summary>
internal sealed class ListenerFlags
{
    private readonly Option<bool> _reusePort = new("--reuse-port")
    {
        Description = "Set SO_REUSEPORT, so several processes can listen on the same port and the kernel spreads connections among them (Linux).",
    };

    private readonly Option<bool> _proxyProtocol = new("--proxy-protocol")
    {
        Description = "Every connection begins with a PROXY protocol header (v1 or v2, as HAProxy's send-proxy-v2 sends); " +
            "handlers and logs then see the original client. Needs --trusted-proxy.",
    };

    private readonly Option<IPNetwork[]> _trustedProxies = new("--trusted-proxy")
    {
        Description = "An address or network (CIDR) the proxies connect from; repeat for more. Connections from elsewhere are refused.",
        HelpName = "CIDR",
        CustomParser = result =>
        {
            var networks = new List<IPNetwork>();
            foreach (var token in result.Tokens)
            {
                if (TryParseNetwork(token.Value, out var network, out var error))
                {
                    networks.Add(network);
                }
                else
                {
                    result.AddError(error);
                }
            }

            return [.. networks];
        },
    };

    private readonly Option<double> _proxyHeaderTimeout = CommonOptions.Seconds(
        "--proxy-header-timeout", "How long a proxy has to send the PROXY protocol header.", 5);

    private readonly Option<FileInfo> _tlsCertificate = new("--tls-cert")
    {
        Description = "Serve TLS with this certificate: a PEM file (with any intermediates after it; then give --tls-key) " +
            "or a PKCS#12 (.pfx) file that holds the key too.",
        HelpName = "FILE",
    };

    private readonly Option<FileInfo> _tlsKey = new("--tls-key")
    {
        Description = "The PEM private key of --tls-cert.",
        HelpName = "FILE",
    };

    private readonly Option<FileInfo> _tlsPasswordFile = new("--tls-password-file")
    {
        Description = "A file whose first line is the password of the PKCS#12 file or of an encrypted PEM key.",
        HelpName = "FILE",
    };

    private readonly Option<FileInfo> _tlsClientCa = new("--tls-client-ca")
    {
        Description = "Require a client certificate issued by one of the certificate authorities in this PEM file.",
        HelpName = "FILE",
    };

    private readonly Option<double> _tlsHandshakeTimeout = CommonOptions.Seconds(
        "--tls-handshake-timeout", "How long a client has to complete the TLS handshake.", 10);

    /// <summary>Adds the flags, and the rules about which go together, to <paramref name="settings"/>.</summary>
    public void AddTo(ServeSettings settings)
    {
        settings.Add(
        [
            ServeSettings.Tool(_reusePort, "ReusePort"),
            ServeSettings.Tool(_proxyProtocol, "ProxyProtocol"),
            ServeSettings.ToolList(_trustedProxies, "TrustedProxies"),
            ServeSettings.Tool(_proxyHeaderTimeout, "ProxyHeaderTimeout"),
            ServeSettings.Tool(_tlsCertificate, "TlsCertificate"),
            ServeSettings.Tool(_tlsKey, "TlsKey"),
            ServeSettings.Tool(_tlsPasswordFile, "TlsPasswordFile"),
            ServeSettings.Tool(_tlsClientCa, "TlsClientCa"),
            ServeSettings.Tool(_tlsHandshakeTimeout, "TlsHandshakeTimeout"),
        ]);

        settings.AddRule(result =>
        {
            var proxyProtocol = result.GetValue(_proxyProtocol);

            // Whether proxies were given, not their parsed values: an invalid --trusted-proxy has its own error already.
            var trusted = result.GetResult(_trustedProxies) is { Tokens.Count: > 0 };
            if (proxyProtocol && !trusted)
            {
                result.AddError("--proxy-protocol needs at least one --trusted-proxy (0.0.0.0/0 and ::/0 trust every peer).");
            }
            else if (!proxyProtocol && trusted)
            {
                result.AddError("--trusted-proxy applies only with --proxy-protocol.");
            }

            var certificate = result.GetResult(_tlsCertificate) is { Implicit: false };
            foreach (var needsCertificate in (Option[])[_tlsKey, _tlsPasswordFile, _tlsClientCa])
            {
                if (!certificate && result.GetResult(needsCertificate) is { Implicit: false })
                {
                    result.AddError($"{needsCertificate.Name} applies only with --tls-cert.");
                }
            }
        });
    }

    /// <summary>
    /// Loads what the settings name (certificate, key, password) now, so a bad file is an error before the server
    /// starts, and returns how to set the PROXY protocol, TLS and SO_REUSEPORT on every listener.
    /// </summary>
    /// <param name="settings">The tool's settings from every source (<see cref="ServeSettings.Resolve"/>).</param>
    /// <exception cref="CliException">A certificate, key or password file cannot be used.</exception>
    public Action<SocketServerOptions> Prepare(ParseResult settings)
    {
        var reusePort = settings.GetValue(_reusePort);
        var proxyProtocol = settings.GetValue(_proxyProtocol) ? ReadProxyProtocol(settings) : null;
        var tls = settings.GetValue(_tlsCertificate) is { } certificate ? LoadTls(settings, certificate) : null;
        return options =>
        {
            foreach (var listener in options.Listeners)
            {
                // On, the flag holds for every TCP listener; off, an endpoint's own ReusePort setting stands.
                listener.ReusePort |= reusePort && listener.EndPoint is IPEndPoint;
                listener.ProxyProtocol = proxyProtocol;
                listener.Tls = tls;
            }
        };
    }

    /// <summary>
    /// An address (a network of one) or a network in CIDR form. A network with bits set past its prefix is refused
    /// rather than silently widened: in a list of who may claim any client address, a typo must not pass.
    /// </summary>
    private static bool TryParseNetwork(string text, out IPNetwork network, out string error)
    {
        error = $"--trusted-proxy must be an IP address or a network such as 10.0.0.0/8 or fd00::/8, not '{text}'.";
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
            error = $"--trusted-proxy {text} has address bits set past its prefix; write {network} for the network, or {address} for one address.";
            return false;
        }

        return true;
    }

    private ProxyProtocolOptions ReadProxyProtocol(ParseResult parse)
    {
        var proxyProtocol = new ProxyProtocolOptions { HeaderTimeout = TimeSpan.FromSeconds(parse.GetValue(_proxyHeaderTimeout)) };
        foreach (var network in parse.GetValue(_trustedProxies) ?? [])
        {
            proxyProtocol.TrustedProxies.Add(network);
        }

        return proxyProtocol;
    }

    private TlsOptions LoadTls(ParseResult parse, FileInfo certificate)
    {
        try
        {
            var password = parse.GetValue(_tlsPasswordFile) is { } passwordFile ? ReadPassword(passwordFile) : null;
            var tls = TlsOptions.Load(certificate.FullName, parse.GetValue(_tlsKey)?.FullName, password);
            tls.HandshakeTimeout = TimeSpan.FromSeconds(parse.GetValue(_tlsHandshakeTimeout));
            if (parse.GetValue(_tlsClientCa) is { } clientCa)
            {
                tls.ClientCertificateMode = ClientCertificateMode.Require;
                tls.ClientCertificateAuthorities.ImportFromPemFile(clientCa.FullName);
                if (tls.ClientCertificateAuthorities.Count == 0)
                {
                    throw new InvalidDataException($"'{clientCa.FullName}' holds no PEM certificate.");
                }
            }

            return tls;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            throw new CliException(ex.Message);
        }
    }

    private static string ReadPassword(FileInfo file)
    {
        using var reader = file.OpenText();
        return reader.ReadLine() ?? string.Empty;
    }
}
