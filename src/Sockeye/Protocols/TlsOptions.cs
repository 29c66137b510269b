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

    /// <summary>The TLS versions the server accepts: TLS 1.2 and TLS 1.3 by default.</summary>
    public SslProtocols EnabledProtocols { get; set; } = SslProtocols.Tls12 | SslProtocols.Tls13;

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
            return CertificateFiles.Load(certificatePath, keyPath, password);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            throw new InvalidDataException(ex is InvalidDataException ? ex.Message : $"Cannot load the TLS certificate from '{certificatePath}': {ex.Message}", ex);
        }
    }

    /// <summary>Throws if an option is out of range.</summary>
    internal void Validate()
    {
        if (HandshakeTimeout <= TimeSpan.Zero && HandshakeTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(HandshakeTimeout), HandshakeTimeout, "HandshakeTimeout must be greater than zero.");
        }

        if (!Enum.IsDefined(ClientCertificateMode))
        {
            throw new ArgumentOutOfRangeException(nameof(ClientCertificateMode), ClientCertificateMode, "Unknown client certificate mode.");
        }
    }
}
