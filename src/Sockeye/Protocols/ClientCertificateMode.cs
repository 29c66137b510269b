namespace Sockeye.Protocols;

/// <summary>Whether a TLS listener asks clients for a certificate.</summary>
public enum ClientCertificateMode
{
    /// <summary>Clients are not asked for a certificate.</summary>
    None = 0,

    /// <summary>Clients are asked for a certificate; one that sends none is served, one that sends a bad one is refused.</summary>
    Allow,

    /// <summary>Clients must send a valid certificate; the handshake fails without one.</summary>
    Require,
}
