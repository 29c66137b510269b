using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Sockeye.Handlers;
using Sockeye.Protocols;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Protocols;

/// <summary>
/// TLS 1.2 offers ECDHE with AEAD suites only by default, a CBC suite is refused (issue 16, LUCKY13); the handler sees
/// what the handshake settled.
/// </summary>
public class TlsNegotiationTests
{
    [Fact(Timeout = Timeouts.Network)]
    public async Task A_client_that_offers_only_a_CBC_suite_is_refused_by_default()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "Windows applies the system's cipher policy.");
        await using var server = await TestServer.StartAsync(new EchoHandler(), options => options.Listeners[0].Tls = new TlsOptions(TestCertificates.Server));

        await Assert.ThrowsAnyAsync<Exception>(() => HandshakeAsync(server, TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256));
        Assert.Equal(TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, await HandshakeAsync(server, TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256));
        Assert.Equal(TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, await HandshakeAsync(server, TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256));
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task The_platform_list_is_one_setting_away()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "Windows applies the system's cipher policy.");
        await using var server = await TestServer.StartAsync(
            new EchoHandler(), options => options.Listeners[0].Tls = new TlsOptions(TestCertificates.Server) { CipherSuites = null });

        Assert.Equal(TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, await HandshakeAsync(server, TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task The_defaults_are_TLS_1_3_and_ECDHE_with_AES_GCM_or_ChaCha20_Poly1305()
    {
        var suites = new TlsOptions(TestCertificates.Server).CipherSuites!;

        Assert.Equal(TlsOptions.DefaultCipherSuites, suites);
        Assert.All(suites, suite => Assert.True(
            suite.ToString().StartsWith("TLS_AES_", StringComparison.Ordinal) || suite.ToString().StartsWith("TLS_CHACHA20_", StringComparison.Ordinal)
            || (suite.ToString().StartsWith("TLS_ECDHE_", StringComparison.Ordinal) && (suite.ToString().Contains("_GCM_", StringComparison.Ordinal) || suite.ToString().Contains("_CHACHA20_POLY1305_", StringComparison.Ordinal))),
            suite.ToString()));
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task The_handler_sees_the_protocol_the_suite_the_host_name_and_the_client_certificate()
    {
        var seen = new TaskCompletionSource<TlsConnectionInfo?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(
            connection =>
            {
                seen.TrySetResult(connection.Tls);
                return Task.CompletedTask;
            },
            options => options.Listeners[0].Tls = new TlsOptions(TestCertificates.Server)
            {
                ClientCertificateMode = ClientCertificateMode.Allow,
                ClientCertificateValidation = (_, certificate, _, _) => certificate?.Subject == "CN=device-42",
            });
        using var authority = TestCertificates.CreateAuthority("CN=test authority");
        using var clientCertificate = TestCertificates.IssueClient(authority, "CN=device-42");

        await using (var client = await TlsClient.ConnectAsync(server.EndPoint, SslProtocols.Tls12, clientCertificate))
        {
            var tls = await seen.Task;

            Assert.NotNull(tls);
            Assert.Equal(SslProtocols.Tls12, tls.Protocol);
            Assert.Equal(client.Ssl.NegotiatedCipherSuite, tls.CipherSuite);
            Assert.Equal("localhost", tls.HostName);
            Assert.Equal("CN=device-42", tls.ClientCertificate?.Subject);
        }
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_connection_without_TLS_has_no_TLS_information()
    {
        var seen = new TaskCompletionSource<TlsConnectionInfo?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(connection =>
        {
            seen.TrySetResult(connection.Tls);
            return Task.CompletedTask;
        });
        using var client = await TestClient.ConnectAsync(server.EndPoint);

        Assert.Null(await seen.Task);
    }

    /// <summary>A TLS 1.2 handshake that offers <paramref name="suite"/> alone; the suite the server chose.</summary>
    private static async Task<TlsCipherSuite> HandshakeAsync(TestServer server, TlsCipherSuite suite)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("SChannel takes no cipher suite policy.");
        }

        using var tcp = await TestClient.ConnectAsync(server.EndPoint);
        await using var ssl = new SslStream(new NetworkStream(tcp.Socket, ownsSocket: false));
        await ssl.AuthenticateAsClientAsync(
            new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                EnabledSslProtocols = SslProtocols.Tls12,
                CipherSuitesPolicy = new CipherSuitesPolicy([suite]),
                RemoteCertificateValidationCallback = TlsClient.IsTestServer,
            },
            TestContext.Current.CancellationToken);
        return ssl.NegotiatedCipherSuite;
    }
}
