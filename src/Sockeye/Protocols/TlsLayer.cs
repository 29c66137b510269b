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
    private readonly SslServerAuthenticationOptions _authentication;

    public TlsLayer(TlsOptions options, ServerContext context)
    {
        _options = options;
        _context = context;

        // Built once per listener: the certificate's chain is resolved at start, not on every handshake.
        _authentication = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = SslStreamCertificateContext.Create(options.ServerCertificate, options.ServerCertificateChain, offline: true),
            EnabledSslProtocols = options.EnabledProtocols,
            ClientCertificateRequired = options.ClientCertificateMode != ClientCertificateMode.None,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,

            // Client-initiated renegotiation costs the server a handshake for each request: a cheap denial of service.
            AllowRenegotiation = false,
        };
        if (options.ClientCertificateMode != ClientCertificateMode.None)
        {
            _authentication.RemoteCertificateValidationCallback = ValidateClientCertificate;
        }

        if (options.ClientCertificateAuthorities.Count > 0)
        {
            var policy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
            };
            policy.CustomTrustStore.AddRange(options.ClientCertificateAuthorities);
            _authentication.CertificateChainPolicy = policy;
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

            var transport = new TlsTransport(connection, ssl, raw, _context);
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
            await ssl.AuthenticateAsServerAsync(_authentication, deadline.Token).ConfigureAwait(false);
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
