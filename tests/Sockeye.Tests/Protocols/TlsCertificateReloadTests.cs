using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Sockeye.Handlers;
using Sockeye.Protocols;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Protocols;

/// <summary>
/// Which certificate a new client is shown: a renewed one written over the files (open connections keep theirs), and
/// the one for the host name it asks for (SNI).
/// </summary>
public sealed class TlsCertificateReloadTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("sockeye-reload-");

    public void Dispose() => _directory.Delete(recursive: true);

    [Fact(Timeout = Timeouts.Network)]
    public async Task Replacing_the_files_changes_the_certificate_new_clients_see_while_an_open_connection_goes_on()
    {
        var (certificate, key) = TestCertificates.WritePem(TestCertificates.Server, _directory.FullName, "server");
        await using var server = await TestServer.StartAsync(new EchoHandler(), options => options.Listeners[0].Tls = TlsOptions.Load(certificate, key));
        await using var open = await TlsClient.ConnectAsync(server.EndPoint);
        await EchoAsync(open, "before");
        using var renewed = TestCertificates.CreateSelfSigned("CN=localhost");

        // As certbot and cert-manager do: written aside, then renamed over the old files, the key first. Between the
        // two renames the key does not match the certificate, and the current certificate must stay.
        var (nextCertificate, nextKey) = TestCertificates.WritePem(renewed, _directory.FullName, "next");
        File.Move(nextKey, key, overwrite: true);
        File.Move(nextCertificate, certificate, overwrite: true);
        await server.Logs.WaitForAsync(r => r.EventId.Id == 55 && r.Message.Contains(renewed.Thumbprint, StringComparison.Ordinal));

        Assert.Equal(renewed.Thumbprint, await PresentedThumbprintAsync(server.EndPoint));
        await EchoAsync(open, "after");
        Assert.Equal(TestCertificates.Server.Thumbprint, ((X509Certificate2)open.Ssl.RemoteCertificate!).Thumbprint);
    }

    [Theory(Timeout = Timeouts.Network)]
    [InlineData(-30, -1, 57, LogLevel.Warning, "has expired: it was valid until")]
    [InlineData(1, 30, 58, LogLevel.Warning, "is not valid until")]
    [InlineData(-30, 3, 59, LogLevel.Warning, "expires soon")]
    [InlineData(-1, 30, 55, LogLevel.Information, "in use for new connections; it expires")]
    public async Task A_certificate_out_of_its_validity_or_near_its_end_is_a_warning_naming_its_file(int fromDays, int toDays, int eventId, LogLevel level, string says)
    {
        // Was: an expired certificate was logged as any other, at Information: "... it expires 2026-12-06 23:20:44Z".
        // Still served: an operator may be mid-rotation.
        var now = DateTimeOffset.UtcNow;
        using var certificate = TestCertificates.CreateSelfSigned("CN=localhost", now.AddDays(fromDays), now.AddDays(toDays));
        var (path, key) = TestCertificates.WritePem(certificate, _directory.FullName, "server");
        await using var server = await TestServer.StartAsync(new EchoHandler(), options => options.Listeners[0].Tls = TlsOptions.Load(path, key));

        var record = Assert.Single(server.Logs.Records, r => r.Message.Contains(certificate.Thumbprint, StringComparison.Ordinal));

        Assert.Equal((eventId, level), (record.EventId.Id, record.Level));
        Assert.Contains(says, record.Message, StringComparison.Ordinal);
        Assert.Contains(path, record.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Files_that_do_not_load_keep_the_current_certificate()
    {
        var (certificate, key) = TestCertificates.WritePem(TestCertificates.Server, _directory.FullName, "server");
        await using var server = await TestServer.StartAsync(new EchoHandler(), options => options.Listeners[0].Tls = TlsOptions.Load(certificate, key));

        await File.WriteAllTextAsync(certificate, "not a certificate", TestContext.Current.CancellationToken);
        await server.Logs.WaitForAsync(r => r.EventId.Id == 56);

        Assert.Equal(TestCertificates.Server.Thumbprint, await PresentedThumbprintAsync(server.EndPoint));
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task SNI_picks_the_certificate_by_host_name_with_a_wildcard_and_a_default()
    {
        using var api = TestCertificates.CreateSelfSigned("CN=api.example.com", "api.example.com");
        using var wildcard = TestCertificates.CreateSelfSigned("CN=*.example.org", "*.example.org");
        var tls = new TlsOptions(TestCertificates.Server);
        tls.ServerNames["API.example.com"] = new TlsOptions(api);
        tls.ServerNames["*.example.org"] = new TlsOptions(wildcard);
        await using var server = await TestServer.StartAsync(new EchoHandler(), options => options.Listeners[0].Tls = tls);

        Assert.Equal(api.Thumbprint, await PresentedThumbprintAsync(server.EndPoint, "api.example.com"));
        Assert.Equal(wildcard.Thumbprint, await PresentedThumbprintAsync(server.EndPoint, "www.example.org"));
        Assert.Equal(TestCertificates.Server.Thumbprint, await PresentedThumbprintAsync(server.EndPoint, "a.b.example.org"));
        Assert.Equal(TestCertificates.Server.Thumbprint, await PresentedThumbprintAsync(server.EndPoint, "localhost"));
    }

    private static async Task EchoAsync(TlsClient client, string text)
    {
        await client.SendAsync(text);
        var reply = new byte[text.Length];
        await client.Ssl.ReadExactlyAsync(reply, TestContext.Current.CancellationToken);
        Assert.Equal(text, System.Text.Encoding.UTF8.GetString(reply));
    }

    /// <summary>The certificate a new client is shown.</summary>
    private static async Task<string> PresentedThumbprintAsync(IPEndPoint endPoint, string hostName = "localhost")
    {
        using var tcp = await TestClient.ConnectAsync(endPoint);
        await using var ssl = new SslStream(new NetworkStream(tcp.Socket, ownsSocket: false));
        string? thumbprint = null;
        await ssl.AuthenticateAsClientAsync(
            new SslClientAuthenticationOptions
            {
                TargetHost = hostName,
                RemoteCertificateValidationCallback = (_, presented, _, _) =>
                {
                    // Which certificate, not whether it is trusted, is what these tests look at.
                    thumbprint = presented?.GetCertHashString();
                    return thumbprint is not null;
                },
            },
            TestContext.Current.CancellationToken);
        return thumbprint!;
    }
}
