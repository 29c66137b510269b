using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Sockeye.Protocols;

/// <summary>
/// What a connection's TLS handshake settled, for the handler (<see cref="Connection.Tls"/>): who the client is by its
/// certificate (mutual TLS), and what protects the connection.
/// </summary>
public sealed class TlsConnectionInfo
{
    internal TlsConnectionInfo(SslStream ssl)
    {
        Protocol = ssl.SslProtocol;
        CipherSuite = ssl.NegotiatedCipherSuite;
        HostName = string.IsNullOrEmpty(ssl.TargetHostName) ? null : ssl.TargetHostName;
        ClientCertificate = ssl.RemoteCertificate as X509Certificate2
            ?? (ssl.RemoteCertificate is { } certificate ? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()) : null);
        ApplicationProtocol = ssl.NegotiatedApplicationProtocol;
    }

    /// <summary>The TLS version: <see cref="SslProtocols.Tls12"/> or <see cref="SslProtocols.Tls13"/>.</summary>
    public SslProtocols Protocol { get; }

    /// <summary>The cipher suite, such as <see cref="TlsCipherSuite.TLS_AES_256_GCM_SHA384"/>.</summary>
    public TlsCipherSuite CipherSuite { get; }

    /// <summary>The certificate the client presented, validated as the listener requires; <see langword="null"/> without one.</summary>
    public X509Certificate2? ClientCertificate { get; }

    /// <summary>The host name the client asked for (SNI), or <see langword="null"/> when it sent none.</summary>
    public string? HostName { get; }

    /// <summary>The protocol agreed by ALPN, empty when none was.</summary>
    public SslApplicationProtocol ApplicationProtocol { get; }
}
