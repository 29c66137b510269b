using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Security.Authentication;

namespace Sockeye.Client;

/// <summary>The client's side of a TLS handshake: an <see cref="SslStream"/> over the connected socket's stream.</summary>
internal static class ClientTls
{
    /// <summary>Authenticates the server over <paramref name="inner"/>, which the returned stream owns.</summary>
    /// <param name="inner">The connected socket's stream.</param>
    /// <param name="options">The caller's options; never changed, since one instance may serve many connections.</param>
    /// <param name="endPoint">What was connected to: the target host when the options name none.</param>
    /// <param name="timeout">The connect timeout, for the message when it runs out during the handshake.</param>
    /// <param name="timedOut">Canceled when the connect timeout runs out.</param>
    /// <param name="cancellationToken">The caller's token, and the connect timeout.</param>
    /// <exception cref="AuthenticationException">The handshake failed, or did not finish before the connect timeout.</exception>
    public static async Task<SslStream> AuthenticateAsync(
        Stream inner, SslClientAuthenticationOptions options, EndPoint endPoint, TimeSpan timeout, CancellationToken timedOut, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(options.TargetHost))
        {
            options = WithTargetHost(options, TargetHost(endPoint));
        }

        var ssl = new SslStream(inner, leaveInnerStreamOpen: false);
        var authenticated = false;
        try
        {
            await ssl.AuthenticateAsClientAsync(options, cancellationToken).ConfigureAwait(false);
            authenticated = true;
            return ssl;
        }
        catch (OperationCanceledException ex) when (timedOut.IsCancellationRequested)
        {
            var seconds = timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
            throw new AuthenticationException(
                $"The TLS handshake with {Describe(endPoint)} did not complete within {seconds} s; the server may not speak TLS.",
                new TimeoutException(ex.Message, ex));
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException)
        {
            // One type for "TLS could not be established", whether TLS refused (AuthenticationException) or the
            // connection under it ended during the handshake (IOException): a server that does not speak TLS does either.
            throw new AuthenticationException($"The TLS handshake with {Describe(endPoint)} failed: {ex.Message}", ex);
        }
        finally
        {
            if (!authenticated)
            {
                await ssl.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// The name the server's certificate must hold: the host name asked for, or the address. A Unix domain socket has
    /// neither; the options must name the host.
    /// </summary>
    internal static string TargetHost(EndPoint endPoint) => endPoint switch
    {
        DnsEndPoint named => IPAddress.TryParse(named.Host.AsSpan().Trim("[]"), out var literal) ? literal.ToString() : named.Host,
        IPEndPoint ip => ip.Address.ToString(),
        _ => string.Empty,
    };

    /// <summary>
    /// A copy with another target host. Every settable property is copied (a test checks that none is missed), as
    /// SocketsHttpHandler copies its own SSL options per connection.
    /// </summary>
    internal static SslClientAuthenticationOptions WithTargetHost(SslClientAuthenticationOptions options, string targetHost)
    {
        var copy = new SslClientAuthenticationOptions
        {
            AllowRenegotiation = options.AllowRenegotiation,
            AllowTlsResume = options.AllowTlsResume,
            ApplicationProtocols = options.ApplicationProtocols,
            CertificateChainPolicy = options.CertificateChainPolicy,
            CertificateRevocationCheckMode = options.CertificateRevocationCheckMode,
            CipherSuitesPolicy = options.CipherSuitesPolicy,
            ClientCertificateContext = options.ClientCertificateContext,
            ClientCertificates = options.ClientCertificates,
            EnabledSslProtocols = options.EnabledSslProtocols,
            EncryptionPolicy = options.EncryptionPolicy,
            LocalCertificateSelectionCallback = options.LocalCertificateSelectionCallback,
            RemoteCertificateValidationCallback = options.RemoteCertificateValidationCallback,
            TargetHost = targetHost,
        };
        if (OperatingSystem.IsLinux() || OperatingSystem.IsWindows())
        {
            copy.AllowRsaPkcs1Padding = options.AllowRsaPkcs1Padding;
            copy.AllowRsaPssPadding = options.AllowRsaPssPadding;
        }

        return copy;
    }

    private static string Describe(EndPoint endPoint) => endPoint is DnsEndPoint named
        ? $"{named.Host}:{named.Port.ToString(CultureInfo.InvariantCulture)}"
        : endPoint.ToString() ?? "the server";
}
