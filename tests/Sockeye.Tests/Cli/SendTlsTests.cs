using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Sockeye.Tests.Infrastructure;
using Sockeye.Tests.Protocols;

namespace Sockeye.Tests.Cli;

/// <summary>
/// <c>sockeye send --tls</c> against <c>sockeye serve --tls-cert</c>. The machine's trust store is made to trust a test
/// certificate through <c>SSL_CERT_FILE</c>, which .NET reads on Linux as OpenSSL does.
/// </summary>
public sealed class SendTlsTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("sockeye-send-tls-");

    public void Dispose() => _directory.Delete(recursive: true);

    [Fact(Timeout = Timeouts.Process)]
    public async Task With_insecure_any_certificate_is_accepted()
    {
        var (server, port) = await StartTlsServerAsync(TestCertificates.Server);
        await using var _ = server;

        var send = await CliProcess.RunAsync("send", "--tls", "--insecure", "--port", Port(port), "over TLS<EOF>");

        Assert.Equal(0, send.ExitCode);
        Assert.Equal(["Response received : over TLS<EOF>"], send.StandardOutput);
        Assert.Equal(["Read 13 bytes from socket.", " Data : over TLS<EOF>", "Sent 13 bytes to client."], await server.WaitForStandardOutputLinesAsync(3));
    }

    [Theory(Timeout = Timeouts.Process)]
    [InlineData("localhost")]
    [InlineData("127.0.0.1")]
    public async Task A_certificate_the_machine_trusts_for_the_host_is_accepted(string host)
    {
        var (server, port) = await StartTlsServerAsync(TestCertificates.Server);
        await using var _ = server;

        var send = await SendTrustingAsync(TestCertificates.Server, "send", "--tls", "--host", host, "--port", Port(port));

        Assert.True(send.ExitCode == 0, string.Join('\n', send.StandardError));
        Assert.Equal(["Response received : This is a test<EOF>"], send.StandardOutput);
    }

    [Theory(Timeout = Timeouts.Process)]
    // Only the server that never answers needs a short timeout; the others fail on their own, and a short timeout there
    // would race a cold process's first handshake on a busy machine.
    [InlineData("untrusted", "30", "The TLS certificate of localhost:{0} is not trusted: ", "(--insecure skips this check).")]
    [InlineData("another name", "30", "The TLS certificate of localhost:{0} is not for 'localhost' but for 'other.example'", "(--insecure skips this check).")]
    [InlineData("plaintext that answers", "30", "The TLS handshake with localhost:{0} failed before a certificate arrived", "is it a TLS server?")]
    [InlineData("plaintext that waits", "0.5", "Timed out after 0.5 s waiting for the TLS handshake with localhost:{0}", "is it a TLS server?")]
    public async Task A_failed_handshake_is_one_line_that_names_the_reason_and_exit_code_one(string server, string timeout, string start, string end)
    {
        using var other = TestCertificates.CreateSelfSigned("CN=other", "other.example");
        var (process, port) = server switch
        {
            "untrusted" => await StartTlsServerAsync(TestCertificates.Server),
            "another name" => await StartTlsServerAsync(other),
            "plaintext that answers" => await CliProcess.StartServerAsync("--handler", "echo"),
            _ => await CliProcess.StartServerAsync("--handler", "eof-echo"),
        };
        await using var _ = process;

        // The other certificate is trusted, so only its name is wrong.
        var send = await SendTrustingAsync(other, "send", "--tls", "--port", Port(port), "--timeout", timeout);

        Assert.Equal(1, send.ExitCode);
        var line = Assert.Single(send.StandardError, line => line.StartsWith("error: ", StringComparison.Ordinal));
        Assert.StartsWith("error: " + string.Format(CultureInfo.InvariantCulture, start, port), line, StringComparison.Ordinal);
        Assert.EndsWith(end, line, StringComparison.Ordinal);
        Assert.Empty(send.StandardOutput);
    }

    [Theory(Timeout = Timeouts.Process)]
    [InlineData("close_notify", "FIRST|LAST")]
    [InlineData("no close_notify", "FIRST|LAST")]
    [InlineData("cut in a record", "FIRST|")]
    public async Task A_reply_that_ends_without_close_notify_is_printed_then_called_maybe_truncated(string end, string printed)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        var serving = ReplyOnceAsync();

        var send = await CliProcess.RunAsync("send", "--tls", "--insecure", "--host", "127.0.0.1", "--port", Port(port), "--half-close");
        await serving;

        Assert.Equal([$"Response received : {printed}"], send.StandardOutput);
        if (end == "close_notify")
        {
            Assert.True(send.ExitCode == 0, string.Join('\n', send.StandardError));
        }
        else
        {
            Assert.Equal(1, send.ExitCode);
            Assert.Equal($"error: 127.0.0.1:{port} ended the TLS connection without a close_notify: the reply may be truncated.", send.StandardError[^1]);
        }

        async Task ReplyOnceAsync()
        {
            var token = TestContext.Current.CancellationToken;
            using var accepted = await listener.AcceptAsync(token);
            var wire = new TlsWire.RecordingStream(new NetworkStream(accepted));
            await using var ssl = new SslStream(wire, leaveInnerStreamOpen: true);
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = TestCertificates.Server }, token);
            await ssl.CopyToAsync(Stream.Null, token);

            // Two records; the second may go out only half.
            await ssl.WriteAsync("FIRST|"u8.ToArray(), token);
            wire.HalveNextWrite = end == "cut in a record";
            await ssl.WriteAsync("LAST"u8.ToArray(), token);
            if (end == "close_notify")
            {
                await ssl.ShutdownAsync();
            }

            // The TCP connection closes, with or without TLS's own end before it.
            accepted.Close();
        }
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Insecure_without_tls_is_a_usage_error()
    {
        var send = await CliProcess.RunAsync("send", "--insecure");

        Assert.Equal(2, send.ExitCode);
        Assert.Equal(["error: --insecure applies only with --tls. (see 'sockeye send --help')"], send.StandardError);
    }

    private Task<(CliProcess Process, int Port)> StartTlsServerAsync(System.Security.Cryptography.X509Certificates.X509Certificate2 certificate)
    {
        var (certificatePath, keyPath) = TestCertificates.WritePem(certificate, _directory.FullName, Guid.NewGuid().ToString("N"));
        return CliProcess.StartServerAsync("--handler", "eof-echo", "--tls-cert", certificatePath, "--tls-key", keyPath);
    }

    /// <summary>Runs the tool with <paramref name="trusted"/> added to the roots it trusts.</summary>
    private async Task<CliProcess> SendTrustingAsync(System.Security.Cryptography.X509Certificates.X509Certificate2 trusted, params string[] arguments)
    {
        var (certificatePath, _) = TestCertificates.WritePem(trusted, _directory.FullName, Guid.NewGuid().ToString("N"));
        var process = CliProcess.StartDotnet(CliProcess.ToolPath, arguments, environment: new Dictionary<string, string?> { ["SSL_CERT_FILE"] = certificatePath });
        await process.WaitForExitAsync();
        return process;
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
