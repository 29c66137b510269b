using System.CommandLine;
using System.Globalization;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Sockeye.Cli;

/// <summary>
/// <c>sockeye send</c>'s TLS flags, and what a failed handshake means in one line: which check the certificate failed,
/// or that the server does not seem to speak TLS.
/// </summary>
internal sealed class SendTls
{
    private readonly Option<bool> _tls = new("--tls")
    {
        Description = "Connect with TLS. The server's certificate must chain to a root this machine trusts and name --host.",
    };

    private readonly Option<bool> _insecure = new("--insecure")
    {
        Description = "With --tls, accept any certificate without checking it: the connection is encrypted, but the server " +
            "is not authenticated, so anyone in between could read it. For testing only.",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(_tls);
        command.Options.Add(_insecure);
        command.Validators.Add(result =>
        {
            if (result.GetResult(_insecure) is { Implicit: false } && result.GetResult(_tls) is not { Implicit: false })
            {
                result.AddError("--insecure applies only with --tls.");
            }
        });
    }

    /// <summary>The check for one connection, or <see langword="null"/> without <c>--tls</c>.</summary>
    public Check? Read(ParseResult parse) => parse.GetValue(_tls) ? new Check(parse.GetValue(_insecure)) : null;

    /// <summary>
    /// Validates the server's certificate as the platform does (or not at all with <c>--insecure</c>), and remembers what
    /// it found, so a refused certificate is explained by name rather than by the handshake's generic message.
    /// </summary>
    internal sealed class Check
    {
        private readonly bool _insecure;
        private SslPolicyErrors? _errors;
        private string? _chainProblems;
        private string? _names;

        public Check(bool insecure)
        {
            _insecure = insecure;

            // The target host is left to the client: the host connected to.
            Options = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = Validate };
        }

        public SslClientAuthenticationOptions Options { get; }

        /// <summary>The one line that says why the handshake with <paramref name="server"/> failed.</summary>
        public CliException Explain(AuthenticationException error, string server, string host, string timeout)
        {
            if (error.InnerException is TimeoutException)
            {
                return new CliException($"Timed out after {timeout} s waiting for the TLS handshake with {server}; is it a TLS server?");
            }

            var insecure = " (--insecure skips this check)";
            return _errors switch
            {
                null => new CliException($"The TLS handshake with {server} failed before a certificate arrived ({Innermost(error)}); is it a TLS server?"),
                { } errors when errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable) =>
                    new CliException($"{server} sent no TLS certificate."),
                { } errors when errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors) =>
                    new CliException($"The TLS certificate of {server} is not trusted: {_chainProblems}{insecure}."),
                { } errors when errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch) =>
                    new CliException($"The TLS certificate of {server} is not for '{host}' but for {_names}{insecure}."),
                _ => new CliException($"The TLS handshake with {server} failed: {Innermost(error)}"),
            };
        }

        private bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
        {
            _errors = errors;
            if (chain is not null && errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors))
            {
                _chainProblems = string.Join("; ", chain.ChainStatus
                    .Select(status => string.IsNullOrWhiteSpace(status.StatusInformation) ? status.Status.ToString() : status.StatusInformation.Trim())
                    .Distinct());
            }

            if (certificate is not null && errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
            {
                _names = Names(certificate);
            }

            return _insecure || errors == SslPolicyErrors.None;
        }

        /// <summary>The names a certificate is for: its subject alternative names, or else its subject.</summary>
        private static string Names(X509Certificate certificate)
        {
            using var full = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
            var names = full.Extensions.OfType<X509SubjectAlternativeNameExtension>()
                .SelectMany(extension => extension.EnumerateDnsNames()
                    .Concat(extension.EnumerateIPAddresses().Select(address => address.ToString())))
                .Select(name => string.Create(CultureInfo.InvariantCulture, $"'{name}'"))
                .ToList();
            return names.Count > 0 ? string.Join(", ", names) : full.Subject;
        }

        private static string Innermost(Exception error)
        {
            while (error.InnerException is not null)
            {
                error = error.InnerException;
            }

            return error.Message.TrimEnd('.');
        }
    }
}
