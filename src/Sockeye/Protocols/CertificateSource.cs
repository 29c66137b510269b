namespace Sockeye.Protocols;

/// <summary>Where a certificate loaded from files came from, so it can be read again.</summary>
internal sealed record CertificateSource(string CertificatePath, string? KeyPath, string? Password)
{
    /// <summary>The files as one line for the log.</summary>
    public override string ToString() => KeyPath is null ? CertificatePath : $"{CertificatePath}, {KeyPath}";

    /// <summary>Reads the files again.</summary>
    /// <exception cref="InvalidDataException">They do not hold a usable certificate and key (perhaps half written).</exception>
    public TlsOptions Load() => TlsOptions.Load(CertificatePath, KeyPath, Password);
}
