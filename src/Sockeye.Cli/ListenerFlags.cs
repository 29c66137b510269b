using System.CommandLine;

namespace Sockeye.Cli;

/// <summary>
/// <c>sockeye serve</c>'s listener flags: SO_REUSEPORT, the PROXY protocol and TLS. Each sets a key of
/// <c>Sockeye:EndpointDefaults</c>, which Sockeye.Hosting applies to every endpoint, configured or given as flags
/// (<see cref="EndpointFlags"/>), unless the endpoint's own configuration says otherwise. Sockeye.Hosting loads the
/// files and checks the values, as for any hosted application.
/// </summary>
internal sealed class ListenerFlags
{
    private readonly Option<bool> _reusePort = new("--reuse-port")
    {
        Description = "Set SO_REUSEPORT on every TCP endpoint, so several processes can listen on the same port and the kernel spreads connections among them (Linux).",
    };

    private readonly Option<bool> _proxyProtocol = new("--proxy-protocol")
    {
        Description = "Every connection begins with a PROXY protocol header (v1 or v2, as HAProxy's send-proxy-v2 sends); " +
            "handlers and logs then see the original client. Needs --trusted-proxy.",
    };

    private readonly Option<string[]> _trustedProxies = new("--trusted-proxy")
    {
        Description = "An address or network (CIDR) the proxies connect from; repeat for more. Connections from elsewhere are refused. Turns on the PROXY protocol.",
        HelpName = "CIDR",
    };

    private readonly Option<double> _proxyHeaderTimeout = CommonOptions.Seconds(
        "--proxy-header-timeout", "How long a proxy has to send the PROXY protocol header.", 5);

    private readonly Option<FileInfo> _tlsCertificate = new("--tls-cert")
    {
        Description = "Serve TLS with this certificate: a PEM file (with any intermediates after it; then give --tls-key) " +
            "or a PKCS#12 (.pfx) file that holds the key too. A new certificate written to the files is used without a restart.",
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

    /// <summary>The flags, each with the endpoint default it sets.</summary>
    public IEnumerable<IConfigBinding> Bindings =>
    [
        ServeSettings.EndpointDefault(_reusePort, "ReusePort"),
        ServeSettings.EndpointDefault(_proxyProtocol, "ProxyProtocol:Enabled"),
        ServeSettings.EndpointDefaultList(_trustedProxies, "ProxyProtocol:TrustedProxies"),
        ServeSettings.EndpointDefault(_proxyHeaderTimeout, "ProxyProtocol:HeaderTimeout"),
        ServeSettings.EndpointDefault(_tlsCertificate, "Tls:Certificate:Path"),
        ServeSettings.EndpointDefault(_tlsKey, "Tls:Certificate:KeyPath"),
        ServeSettings.EndpointDefault(_tlsPasswordFile, "Tls:Certificate:PasswordFile"),
        ServeSettings.EndpointDefault(_tlsClientCa, "Tls:ClientCertificateAuthorities:0", ("Tls:ClientCertificateMode", "Require")),
        ServeSettings.EndpointDefault(_tlsHandshakeTimeout, "Tls:HandshakeTimeout"),
    ];
}
