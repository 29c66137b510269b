using System.Net.Security;
using Sockeye.Transport;

namespace Sockeye.Protocols;

/// <summary>
/// One certificate of a TLS listener (its default, or a host name's), as the options a handshake starts from; swapped
/// for the renewed certificate when its files change. A handshake under way, and every open connection, keep theirs.
/// </summary>
internal sealed class CertificateSlot
{
    private SslServerAuthenticationOptions _authentication;

    public CertificateSlot(TlsOptions certificate, Func<TlsOptions, SslServerAuthenticationOptions> create, bool reloadOnChange, ServerContext context)
    {
        _authentication = create(certificate);
        if (certificate.Source is not { } source)
        {
            return;
        }

        CertificateReloader.LogLoaded(context.ServerLogger, certificate, source, context.TimeProvider.GetUtcNow());
        if (reloadOnChange)
        {
            var reloader = new CertificateReloader(
                source, certificate.ServerCertificate.Thumbprint, loaded => Volatile.Write(ref _authentication, create(loaded)),
                context.ServerLogger, context.TimeProvider);

            // No new handshake once the server stops accepting.
            context.Draining.Register(static state => ((CertificateReloader)state!).Dispose(), reloader);
        }
    }

    /// <summary>The options for a new handshake.</summary>
    public SslServerAuthenticationOptions Authentication => Volatile.Read(ref _authentication);
}
