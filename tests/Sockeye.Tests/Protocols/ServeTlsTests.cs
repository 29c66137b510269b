using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Protocols;

/// <summary><c>sockeye serve</c> with TLS, against <c>openssl s_client</c>, and its one-line errors for bad certificates.</summary>
public sealed class ServeTlsTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("sockeye-tls-");

    public void Dispose() => _directory.Delete(recursive: true);

    [Theory(Timeout = Timeouts.Process)]
    [InlineData("-tls1_3")]
    [InlineData("-tls1_2")]
    public async Task Openssl_s_client_gets_an_echo_over_TLS(string version)
    {
        var openssl = ExternalTool.Require("openssl", "openssl");
        var (certificate, key) = TestCertificates.WritePem(TestCertificates.Server, _directory.FullName, "server");
        var (server, port) = await CliProcess.StartServerAsync("--handler", "eof-echo", "--tls-cert", certificate, "--tls-key", key);
        await using var _ = server;

        var (exitCode, output, error) = await SClientAsync(openssl, port, certificate, version, "from openssl<EOF>");

        Assert.True(exitCode == 0, error);
        Assert.Equal("from openssl<EOF>", output);

        // The server ended the stream with close_notify, so OpenSSL saw a clean end, not a truncation.
        Assert.DoesNotContain("unexpected eof", error, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(
            ["Read 17 bytes from socket.", " Data : from openssl<EOF>", "Sent 17 bytes to client."],
            await server.WaitForStandardOutputLinesAsync(3));
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task A_PKCS12_file_with_a_password_file_serves_TLS()
    {
        var openssl = ExternalTool.Require("openssl", "openssl");
        var pfx = Path.Combine(_directory.FullName, "server.pfx");
        var passwordFile = Path.Combine(_directory.FullName, "password");
        await File.WriteAllBytesAsync(pfx, TestCertificates.Server.Export(X509ContentType.Pkcs12, "s3cret"), TestContext.Current.CancellationToken);
        await File.WriteAllTextAsync(passwordFile, "s3cret\n", TestContext.Current.CancellationToken);
        var (certificate, _) = TestCertificates.WritePem(TestCertificates.Server, _directory.FullName, "server");
        var (server, port) = await CliProcess.StartServerAsync("--handler", "eof-echo", "--tls-cert", pfx, "--tls-password-file", passwordFile);
        await using var _ = server;

        var (exitCode, output, error) = await SClientAsync(openssl, port, certificate, "-tls1_3", "pfx<EOF>");

        Assert.True(exitCode == 0, error);
        Assert.Equal("pfx<EOF>", output);
    }

    [Theory(Timeout = Timeouts.Process)]
    [InlineData("missing certificate", "Could not find file")]
    [InlineData("missing key", "Could not find file")]
    [InlineData("garbage certificate", "is neither a PEM certificate nor a PKCS#12 file")]
    [InlineData("certificate without its key", "key")]
    [InlineData("key of another certificate", "key")]
    [InlineData("wrong PKCS#12 password", "password")]
    [InlineData("PKCS#12 with a key file", "holds its own key")]
    public async Task A_bad_certificate_or_key_is_one_line_and_exit_code_two(string problem, string message)
    {
        var (certificate, key) = TestCertificates.WritePem(TestCertificates.Server, _directory.FullName, "server");
        using var other = TestCertificates.CreateSelfSigned("CN=other");
        var (_, otherKey) = TestCertificates.WritePem(other, _directory.FullName, "other");
        var pfx = Path.Combine(_directory.FullName, "server.pfx");
        await File.WriteAllBytesAsync(pfx, TestCertificates.Server.Export(X509ContentType.Pkcs12, "right"), TestContext.Current.CancellationToken);
        var passwordFile = Path.Combine(_directory.FullName, "password");
        await File.WriteAllTextAsync(passwordFile, "wrong", TestContext.Current.CancellationToken);
        var garbage = Path.Combine(_directory.FullName, "garbage.crt");
        await File.WriteAllTextAsync(garbage, "not a certificate", TestContext.Current.CancellationToken);
        string[] tls = problem switch
        {
            "missing certificate" => ["--tls-cert", Path.Combine(_directory.FullName, "nope.crt"), "--tls-key", key],
            "missing key" => ["--tls-cert", certificate, "--tls-key", Path.Combine(_directory.FullName, "nope.key")],
            "garbage certificate" => ["--tls-cert", garbage, "--tls-key", key],
            "certificate without its key" => ["--tls-cert", certificate],
            "key of another certificate" => ["--tls-cert", certificate, "--tls-key", otherKey],
            "wrong PKCS#12 password" => ["--tls-cert", pfx, "--tls-password-file", passwordFile],
            _ => ["--tls-cert", pfx, "--tls-key", key],
        };

        var serve = await CliProcess.RunAsync(["serve", "--port", "0", .. tls]);

        // A bad file is a bad setting, as Sockeye.Hosting reads it: a usage error that names the key.
        Assert.Equal(2, serve.ExitCode);
        var line = Assert.Single(serve.StandardError);
        Assert.StartsWith("error: Sockeye:EndpointDefaults:Tls:Certificate: ", line, StringComparison.Ordinal);
        Assert.Contains(message, line, StringComparison.OrdinalIgnoreCase);
    }

    private static Task<(int ExitCode, string Output, string Error)> SClientAsync(string openssl, int port, string caFile, string version, string input) =>
        ExternalTool.RunAsync(openssl,
        [
            "s_client", "-connect", $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}", version, "-quiet", "-ign_eof",
            "-CAfile", caFile, "-verify_return_error", "-verify_hostname", "localhost",
        ],
        input);
}
