using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Protocols;

/// <summary>A TLS client for tests over a <see cref="TestClient"/>; trusts <see cref="TestCertificates.Server"/> only.</summary>
internal sealed class TlsClient : IAsyncDisposable
{
    private TlsClient(TestClient tcp, SslStream ssl)
    {
        Tcp = tcp;
        Ssl = ssl;
    }

    public TestClient Tcp { get; }

    public SslStream Ssl { get; }

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public static async Task<TlsClient> ConnectAsync(
        EndPoint endPoint, SslProtocols protocols = SslProtocols.None, X509Certificate2? certificate = null, byte[]? preface = null)
    {
        var tcp = await TestClient.ConnectAsync(endPoint);
        if (preface is not null)
        {
            await tcp.SendAsync(preface);
        }

        var ssl = new SslStream(new NetworkStream(tcp.Socket, ownsSocket: false));
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            EnabledSslProtocols = protocols,
            RemoteCertificateValidationCallback = IsTestServer,
        };
        if (certificate is not null)
        {
            options.ClientCertificates = [certificate];
            options.LocalCertificateSelectionCallback = (_, _, _, _, _) => certificate;
        }

        try
        {
            await ssl.AuthenticateAsClientAsync(options, Token);
        }
        catch
        {
            await ssl.DisposeAsync();
            tcp.Dispose();
            throw;
        }

        return new TlsClient(tcp, ssl);
    }

    /// <summary>Accepts exactly <see cref="TestCertificates.Server"/>, which no machine trusts.</summary>
    public static bool IsTestServer(object sender, X509Certificate? presented, X509Chain? chain, SslPolicyErrors errors) =>
        presented is not null && presented.GetCertHashString() == TestCertificates.Server.GetCertHashString();

    public async Task SendAsync(string text) => await Ssl.WriteAsync(Encoding.UTF8.GetBytes(text), Token);

    /// <summary>Reads until the server ends the TLS stream, which it must do with close_notify, not a bare FIN.</summary>
    public async Task<string> ReceiveTextToEndAsync()
    {
        using var received = new MemoryStream();
        await Ssl.CopyToAsync(received, Token);
        return Encoding.UTF8.GetString(received.ToArray());
    }

    public async ValueTask DisposeAsync()
    {
        await Ssl.DisposeAsync();
        Tcp.Dispose();
    }
}
