using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Sockeye.Protocols;

namespace Sockeye.Tests.Protocols;

/// <summary>What loading a PEM certificate says when its key cannot be used as given.</summary>
public sealed class CertificateFilesTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("sockeye-certificate-files-");

    public void Dispose() => _directory.Delete(recursive: true);

    [Fact(Timeout = Timeouts.Fast)]
    public Task An_encrypted_key_without_a_password_is_called_encrypted_not_a_mismatch()
    {
        var (certificate, key) = TestCertificates.WritePem(TestCertificates.Server, _directory.FullName, "server");
        File.WriteAllText(key, TestCertificates.Server.GetECDsaPrivateKey()!.ExportEncryptedPkcs8PrivateKeyPem(
            "secret", new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 10_000)));

        var error = Assert.Throws<InvalidDataException>(() => TlsOptions.Load(certificate, key));
        Assert.Equal($"The private key in '{key}' is encrypted, and no password was given for it.", error.Message);

        // With its password it loads.
        Assert.NotNull(TlsOptions.Load(certificate, key, "secret").ServerCertificate);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task A_folder_given_as_the_certificate_or_the_key_is_called_a_folder_not_access_denied()
    {
        var (certificate, _) = TestCertificates.WritePem(TestCertificates.Server, _directory.FullName, "server");
        var folder = _directory.CreateSubdirectory("certs").FullName;

        Assert.Equal($"'{folder}' is a folder, not a file.", Assert.Throws<InvalidDataException>(() => TlsOptions.Load(folder)).Message);
        Assert.Equal($"'{folder}' is a folder, not a file.", Assert.Throws<InvalidDataException>(() => TlsOptions.Load(certificate, folder)).Message);
        return Task.CompletedTask;
    }
}
