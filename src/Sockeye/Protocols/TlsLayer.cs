using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Sockeye.Diagnostics;
using Sockeye.Framing;
using Sockeye.Transport;

namespace Sockeye.Protocols;

/// <summary>
/// The TLS layer of a listener: runs the handshake over the connection's raw pipes within its deadline, then gives the
/// handler a plain duplex pipe in <see cref="Connection.Transport"/> and, once the handler is done, sends what it
/// wrote and a close_notify.
/// </summary>
internal sealed class TlsLayer
{
    private readonly TlsOptions _options;
    private readonly ServerContext _context;
    private readonly CertificateSlot _default;
    private readonly Dictionary<string, CertificateSlot> _serverNames;

    public TlsLayer(TlsOptions options, ServerContext context)
    {
        _options = options;
        _context = context;

        // Built once per listener, and again only when the certificate files change: the chain is resolved then,
        // not on every handshake.
        _default = new CertificateSlot(options, CreateAuthentication, options.ReloadOnChange, context);
        _serverNames = options.ServerNames.ToDictionary(
            name => name.Key, name => new CertificateSlot(name.Value, CreateAuthentication, options.ReloadOnChange, context), StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>
    /// SNI: the certificate for the host name the client asked for: the name's own, else a wildcard's (<c>*.example.com</c>
    /// for <c>a.example.com</c>), else the default one.
    /// </summary>
    private static ValueTask<SslServerAuthenticationOptions> SelectByServerName(SslStream stream, SslClientHelloInfo hello, object? state, CancellationToken cancellationToken)
    {
        var layer = (TlsLayer)state!;
        var name = hello.ServerName;
        CertificateSlot? slot = null;
        if (!string.IsNullOrEmpty(name) && !layer._serverNames.TryGetValue(name, out slot) && name.IndexOf('.', StringComparison.Ordinal) is > 0 and var dot)
        {
            layer._serverNames.TryGetValue(string.Concat("*", name.AsSpan(dot)), out slot);
        }

        return ValueTask.FromResult((slot ?? layer._default).Authentication);
    }

    /// <summary>The handshake's options: <paramref name="certificate"/>'s certificate and chain, and this listener's settings.</summary>
    private SslServerAuthenticationOptions CreateAuthentication(TlsOptions certificate)
    {
        var options = _options;
        var authentication = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = SslStreamCertificateContext.Create(certificate.ServerCertificate, certificate.ServerCertificateChain, offline: true),
            EnabledSslProtocols = options.EnabledProtocols,
            ClientCertificateRequired = options.ClientCertificateMode != ClientCertificateMode.None,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,

            // Client-initiated renegotiation costs the server a handshake for each request: a cheap denial of service.
            AllowRenegotiation = false,
            CipherSuitesPolicy = CipherPolicy(options.CipherSuites),
        };
        if (options.ClientCertificateMode != ClientCertificateMode.None)
        {
            authentication.RemoteCertificateValidationCallback = ValidateClientCertificate;
        }

        if (options.ClientCertificateAuthorities.Count > 0)
        {
            var policy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
            };
            policy.CustomTrustStore.AddRange(options.ClientCertificateAuthorities);
            authentication.CertificateChainPolicy = policy;
        }

        return authentication;
    }

    /// <summary>
    /// The suites as a policy, where the platform takes one. SChannel does not (its constructor throws
    /// PlatformNotSupportedException): Windows applies the system's policy, which an administrator sets.
    /// </summary>
    private static CipherSuitesPolicy? CipherPolicy(IList<TlsCipherSuite>? suites)
    {
        if (suites is null || OperatingSystem.IsWindows())
        {
            return null;
        }

        try
        {
            return new CipherSuitesPolicy(suites);
        }
        catch (PlatformNotSupportedException)
        {
            // A platform without a cipher suite policy (Android, say): its own defaults apply, as on Windows.
            return null;
        }
    }

    public ConnectionDelegate Wrap(ConnectionDelegate next) => connection => RunAsync(connection, next);

    private async Task RunAsync(Connection connection, ConnectionDelegate next)
    {
        var raw = connection.Transport;
        var stream = new DuplexPipeStream(raw);
        var ssl = new SslStream(stream, leaveInnerStreamOpen: true);
        await using (ssl.ConfigureAwait(false))
        {
            if (!await AuthenticateAsync(connection, ssl, stream).ConfigureAwait(false))
            {
                return;
            }

            var transport = new TlsTransport(connection, ssl, raw, _context) { Info = new TlsConnectionInfo(ssl) };
            connection.Transport = transport;
            Exception? handlerError = null;
            try
            {
                await next(connection).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not ProtocolException)
            {
                handlerError = ex;
                throw;
            }
            finally
            {
                await transport.CompleteAsync(handlerError).ConfigureAwait(false);
            }
        }
    }

    private async Task<bool> AuthenticateAsync(Connection connection, SslStream ssl, DuplexPipeStream stream)
    {
        var logger = _context.ConnectionLogger;
        using var deadline = new CancellationTokenSource(_options.HandshakeTimeout, _context.TimeProvider);
        try
        {
            var handshake = _serverNames.Count == 0
                ? ssl.AuthenticateAsServerAsync(_default.Authentication, deadline.Token)
                : ssl.AuthenticateAsServerAsync(SelectByServerName, this, deadline.Token);
            await handshake.ConfigureAwait(false);
            Log.TlsEstablished(logger, connection.Id, ssl.SslProtocol, ssl.NegotiatedCipherSuite);
            return true;
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            Log.TlsHandshakeTimeout(logger, connection.Id, connection.RemoteEndPoint, _options.HandshakeTimeout);
            connection.Abort(ConnectionEndReason.TlsHandshakeTimeout);
        }
        catch (OperationCanceledException) when (connection.EndReason != ConnectionEndReason.None)
        {
            // Aborted during the handshake (the server stopping, say): the reason is recorded already.
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException)
        {
            // A peer that connects and leaves without a byte (a TCP health check, a port scan) did not try TLS and
            // failed; it simply closed. Anything else is a failed handshake. Ending gracefully lets the alert that
            // SslStream wrote reach the client.
            if (stream.BytesRead > 0)
            {
                Log.TlsHandshakeFailed(logger, connection.Id, connection.RemoteEndPoint, ex.Message);
                connection.TrySetEndReason(ConnectionEndReason.TlsHandshakeFailed);
            }
        }

        return false;
    }

    private bool ValidateClientCertificate(object sender, System.Security.Cryptography.X509Certificates.X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            return _options.ClientCertificateMode == ClientCertificateMode.Allow;
        }

        return _options.ClientCertificateValidation?.Invoke(sender, certificate, chain, errors) ?? errors == SslPolicyErrors.None;
    }
}
