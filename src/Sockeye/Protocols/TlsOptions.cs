using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Sockeye.Protocols;

/// <summary>
/// TLS on one listener: the server's certificate, the protocol versions, client certificates and the handshake
/// timeout. The handler reads and writes plain bytes; the layer encrypts them.
/// </summary>
/// <remarks>The options are read when the server starts; changes made after that do not apply.</remarks>
public sealed class TlsOptions
{
    /// <summary>Creates TLS options that present <paramref name="serverCertificate"/>.</summary>
    /// <param name="serverCertificate">The server's certificate, with its private key.</param>
    /// <exception cref="ArgumentException">The certificate has no private key.</exception>
    public TlsOptions(X509Certificate2 serverCertificate)
    {
        ArgumentNullException.ThrowIfNull(serverCertificate);
        if (!serverCertificate.HasPrivateKey)
        {
            throw new ArgumentException($"The certificate '{serverCertificate.Subject}' has no private key.", nameof(serverCertificate));
        }

        ServerCertificate = serverCertificate;
    }

    /// <summary>The certificate the server presents.</summary>
    public X509Certificate2 ServerCertificate { get; }

    /// <summary>Intermediate certificates sent with <see cref="ServerCertificate"/>, so clients can build its chain.</summary>
    public X509Certificate2Collection ServerCertificateChain { get; } = [];

    /// <summary>
    /// SNI: other certificates, by the host name a client asks for (<c>api.example.com</c>, or <c>*.example.com</c> for
    /// any one label before it); a client that asks for none of them, or for no name, gets <see cref="ServerCertificate"/>.
    /// Only each entry's certificate, its chain and its files are used; every other setting is this listener's.
    /// </summary>
    public IDictionary<string, TlsOptions> ServerNames { get; } = new Dictionary<string, TlsOptions>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The TLS versions the server accepts: TLS 1.2 and TLS 1.3 by default. <see cref="SslProtocols.None"/> lets the
    /// operating system choose; older versions are refused when the server starts, as the platforms' TLS refuses them.
    /// </summary>
    public SslProtocols EnabledProtocols { get; set; } = SslProtocols.Tls12 | SslProtocols.Tls13;

    /// <summary>
    /// The cipher suites the server accepts: TLS 1.3's, and for TLS 1.2 only ECDHE key exchange with AES-GCM or
    /// ChaCha20-Poly1305 (<see cref="DefaultCipherSuites"/>), so no CBC suite (LUCKY13) and no static RSA key exchange is
    /// offered. <see langword="null"/> takes the platform's own list. Applies where .NET lets an application choose
    /// (Linux and macOS); Windows applies the system's cipher policy and ignores it.
    /// </summary>
    public IList<TlsCipherSuite>? CipherSuites { get; set; } = [.. DefaultCipherSuites];

    /// <summary>The suites <see cref="CipherSuites"/> starts with: TLS 1.3's three, then ECDHE with AEAD for TLS 1.2, strongest first.</summary>
    public static IReadOnlyList<TlsCipherSuite> DefaultCipherSuites { get; } =
    [
        TlsCipherSuite.TLS_AES_256_GCM_SHA384,
        TlsCipherSuite.TLS_AES_128_GCM_SHA256,
        TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256,
        TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        TlsCipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ];

    /// <summary>
    /// For options from <see cref="Load"/>: read the files again when they change (a renewal by certbot or
    /// cert-manager), so new handshakes present the new certificate while open connections go on with theirs. The
    /// files are watched, and checked once a minute besides, where a watch misses changes (some network file systems).
    /// On by default; a change that does not load (a key that does not match yet) keeps the current certificate.
    /// </summary>
    public bool ReloadOnChange { get; set; } = true;

    /// <summary>The files <see cref="Load"/> read, to read again on a change; <see langword="null"/> for a certificate given in code.</summary>
    internal CertificateSource? Source { get; set; }

    /// <summary>Whether clients are asked for a certificate. <see cref="ClientCertificateMode.None"/> by default.</summary>
    public ClientCertificateMode ClientCertificateMode { get; set; }

    /// <summary>
    /// The certificate authorities a client certificate must chain to. Empty (the default) means the machine's trusted
    /// roots.
    /// </summary>
    public X509Certificate2Collection ClientCertificateAuthorities { get; } = [];

    /// <summary>
    /// Decides whether to accept a client certificate, in place of the default check that its chain is valid. It is
    /// called only when the client sent a certificate.
    /// </summary>
    public RemoteCertificateValidationCallback? ClientCertificateValidation { get; set; }

    /// <summary>
    /// How long a client has to complete the handshake after connecting; then the connection ends with
    /// <see cref="ConnectionEndReason.TlsHandshakeTimeout"/>. 10 seconds by default.
    /// </summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Loads a certificate and its private key from files: a PEM certificate (with any intermediates after it) and a PEM
    /// key, or a PKCS#12 (PFX) file that holds both.
    /// </summary>
    /// <param name="certificatePath">A PEM certificate file, or a PKCS#12 (.pfx, .p12) file.</param>
    /// <param name="keyPath">The PEM private key; required with a PEM certificate, not allowed with PKCS#12.</param>
    /// <param name="password">The PKCS#12 file's password, or the password of an encrypted PEM key.</param>
    /// <returns>Options that present the certificate, with its intermediates in <see cref="ServerCertificateChain"/>.</returns>
    /// <exception cref="InvalidDataException">The files cannot be read, or do not hold a usable certificate and key.</exception>
    public static TlsOptions Load(string certificatePath, string? keyPath = null, string? password = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(certificatePath);
        try
        {
            var options = CertificateFiles.Load(certificatePath, keyPath, password);
            options.Source = new CertificateSource(Path.GetFullPath(certificatePath), keyPath is null ? null : Path.GetFullPath(keyPath), password);
            return options;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            throw new InvalidDataException(ex is InvalidDataException ? ex.Message : $"Cannot load the TLS certificate from '{certificatePath}': {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Checks the options as <see cref="SocketServer.StartAsync"/> does, so a host can refuse bad configuration before
    /// anything starts and name the setting.
    /// </summary>
    /// <exception cref="ArgumentException">An option is out of range; its name is the exception's <c>ParamName</c>.</exception>
    public void Validate()
    {
        if (HandshakeTimeout <= TimeSpan.Zero && HandshakeTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(HandshakeTimeout), HandshakeTimeout, "HandshakeTimeout must be greater than zero.");
        }

        TimerLimit.Require(HandshakeTimeout, nameof(HandshakeTimeout), "turns it off");

        // SSL 2 and 3, TLS 1.0 and 1.1 are obsolete, and the platforms' TLS libraries refuse them: an endpoint that
        // offered only those would start and then fail every handshake, which is only logged at Debug.
        if ((EnabledProtocols & ~(SslProtocols.Tls12 | SslProtocols.Tls13)) is var obsolete and not SslProtocols.None)
        {
            throw new ArgumentException(
                $"EnabledProtocols has {obsolete}, which is obsolete and refused by the platform's TLS, so every handshake would fail; " +
                "the versions are Tls12 and Tls13, or None for the operating system's choice.",
                nameof(EnabledProtocols));
        }

        foreach (var name in ServerNames.Keys)
        {
            if (string.IsNullOrWhiteSpace(name) || (name.Contains('*', StringComparison.Ordinal) && !(name.StartsWith("*.", StringComparison.Ordinal) && name.LastIndexOf('*') == 0)))
            {
                throw new ArgumentException($"ServerNames has '{name}', which is not a host name or a wildcard such as *.example.com.", nameof(ServerNames));
            }
        }

        if (CipherSuites is { Count: 0 })
        {
            throw new ArgumentException("CipherSuites is empty, so no client could connect; null takes the platform's list.", nameof(CipherSuites));
        }

        if (!Enum.IsDefined(ClientCertificateMode))
        {
            throw new ArgumentOutOfRangeException(nameof(ClientCertificateMode), ClientCertificateMode, "Unknown client certificate mode.");
        }
    }
}
