using System.Security.Cryptography.X509Certificates;

namespace Sockeye.Protocols;

/// <summary>Reads a server certificate and its key from PEM or PKCS#12 files, with messages that name the problem.</summary>
internal static class CertificateFiles
{
    private const byte DerSequenceTag = 0x30;

    public static TlsOptions Load(string certificatePath, string? keyPath, string? password)
    {
        // Read as files, a folder is "access denied", which sends an operator to the permissions.
        foreach (var path in (string?[])[certificatePath, keyPath])
        {
            if (path is not null && Directory.Exists(path))
            {
                throw new InvalidDataException($"'{path}' is a folder, not a file.");
            }
        }

        var contents = File.ReadAllBytes(certificatePath);
        if (contents.AsSpan().IndexOf("-----BEGIN "u8) >= 0)
        {
            return LoadPem(certificatePath, keyPath, password);
        }

        if (contents.Length == 0 || contents[0] != DerSequenceTag)
        {
            throw new InvalidDataException($"'{certificatePath}' is neither a PEM certificate nor a PKCS#12 file.");
        }

        if (keyPath is not null)
        {
            throw new InvalidDataException($"'{certificatePath}' is a PKCS#12 file, which holds its own key; a separate key file is not used with it.");
        }

        var certificates = X509CertificateLoader.LoadPkcs12CollectionFromFile(certificatePath, password);
        var leaf = certificates.FirstOrDefault(certificate => certificate.HasPrivateKey)
            ?? throw new InvalidDataException($"'{certificatePath}' holds no certificate with a private key.");
        var options = new TlsOptions(leaf);
        foreach (var certificate in certificates)
        {
            if (!ReferenceEquals(certificate, leaf))
            {
                options.ServerCertificateChain.Add(certificate);
            }
        }
        return options;
    }

    private static TlsOptions LoadPem(string certificatePath, string? keyPath, string? password)
    {
        var certificates = new X509Certificate2Collection();
        certificates.ImportFromPemFile(certificatePath);
        if (certificates.Count == 0)
        {
            throw new InvalidDataException($"'{certificatePath}' holds no PEM certificate.");
        }

        // Without a key file the key is looked for in the certificate file itself.
        if (keyPath is null && File.ReadAllText(certificatePath).IndexOf("PRIVATE KEY-----", StringComparison.Ordinal) < 0)
        {
            throw new InvalidDataException($"'{certificatePath}' holds no private key, and no key file was given.");
        }

        // Without a password an encrypted key reads as no key at all, which the catch below would call a mismatch.
        if (password is null && File.ReadAllText(keyPath ?? certificatePath).Contains("-----BEGIN ENCRYPTED PRIVATE KEY-----", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"The private key in '{keyPath ?? certificatePath}' is encrypted, and no password was given for it.");
        }

        X509Certificate2 leaf;
        try
        {
            leaf = password is null
                ? X509Certificate2.CreateFromPemFile(certificatePath, keyPath)
                : X509Certificate2.CreateFromEncryptedPemFile(certificatePath, password, keyPath);
        }
        catch (ArgumentException ex)
        {
            // The message of a mismatch names a parameter; say which files instead.
            throw new InvalidDataException($"The private key in '{keyPath ?? certificatePath}' does not belong to the certificate in '{certificatePath}'.", ex);
        }

        if (OperatingSystem.IsWindows())
        {
            // SChannel cannot use the ephemeral key a PEM file gives; a round trip through PKCS#12 makes it persistent.
            using var ephemeral = leaf;
            leaf = X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), password: null);
        }

        certificates[0].Dispose();
        var options = new TlsOptions(leaf);
        for (var i = 1; i < certificates.Count; i++)
        {
            options.ServerCertificateChain.Add(certificates[i]);
        }

        return options;
    }
}
