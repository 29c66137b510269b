using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Reflection;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Sockeye.Client;
using Sockeye.Framing;
using Sockeye.Cli.Handlers;
using Sockeye.Handlers;
using Sockeye.Protocols;
using Sockeye.Tests.Infrastructure;
using Sockeye.Tests.Protocols;

namespace Sockeye.Tests.Client;

/// <summary><see cref="SocketClient"/> with <see cref="SocketClientOptions.Tls"/>, against the server's TLS layer and a bare SslStream.</summary>
public class SocketClientTlsTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Theory(Timeout = Timeouts.Network)]
    [InlineData(SslProtocols.Tls12)]
    [InlineData(SslProtocols.Tls13)]
    public async Task Exchanges_framed_messages_with_the_TLS_layer_and_ends_cleanly(SslProtocols protocol)
    {
        await using var server = await StartTlsServerAsync(new EchoHandler(new LineFramer()));
        var options = new SocketClientOptions { Framer = new LineFramer(), Tls = TrustTestServer(protocol) };
        await using var client = await SocketClient.ConnectAsync(new DnsEndPoint("localhost", server.EndPoint.Port), options, Token);

        foreach (var text in new[] { "one", "two over TLS" })
        {
            await client.SendAsync(Encoding.UTF8.GetBytes(text), Token);
            Assert.Equal(text, Encoding.UTF8.GetString((await client.ReceiveAsync(Token))!));
        }

        await client.CompleteSendingAsync(Token);

        // The server read the end of the TLS stream between two messages, returned, and ended its side too.
        Assert.Null(await client.ReceiveAsync(Token));
        await server.Logs.WaitForAsync(r => r.EventId.Id == 47 && r.Message.Contains(protocol.ToString(), StringComparison.Ordinal));
        await server.Logs.WaitForAsync(r => r.EventId.Id == 11 && r.Message.Contains(": ClientClosed;", StringComparison.Ordinal));
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Completing_the_sending_side_ends_the_TLS_stream_with_close_notify()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();

        // TLS 1.2 shows each record's type in the clear, so the close_notify alert can be seen on the wire.
        var connecting = SocketClient.ConnectAsync(listener.LocalEndPoint!, new SocketClientOptions { Tls = TrustTestServer(SslProtocols.Tls12) }, Token);
        using var accepted = await listener.AcceptAsync(Token);
        var wire = new TlsWire.RecordingStream(new NetworkStream(accepted));
        await using var ssl = new SslStream(wire);
        await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = TestCertificates.Server }, Token);
        await using var client = await connecting;

        await client.SendAsync("bye"u8.ToArray(), Token);
        await client.CompleteSendingAsync(Token);
        using var received = new MemoryStream();
        await ssl.CopyToAsync(received, Token);

        Assert.Equal("bye", Encoding.UTF8.GetString(received.ToArray()));
        Assert.Equal(TlsWire.Alert, TlsWire.RecordTypes(wire.Received.ToArray())[^1]);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task By_default_a_certificate_the_machine_does_not_trust_is_refused()
    {
        await using var server = await StartTlsServerAsync(new EofEchoHandler(HandlerOutput.Null));
        var options = new SocketClientOptions { Tls = new SslClientAuthenticationOptions() };

        var error = await Assert.ThrowsAsync<AuthenticationException>(() =>
            SocketClient.ConnectAsync(new DnsEndPoint("localhost", server.EndPoint.Port), options, Token));

        Assert.StartsWith($"The TLS handshake with localhost:{server.EndPoint.Port} failed: ", error.Message, StringComparison.Ordinal);
        Assert.IsType<AuthenticationException>(error.InnerException);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task The_target_host_is_the_host_connected_to_and_the_options_are_left_as_they_were()
    {
        await using var server = await StartTlsServerAsync(new EofEchoHandler(HandlerOutput.Null));
        var targets = new List<string>();
        var tls = new SslClientAuthenticationOptions
        {
            RemoteCertificateValidationCallback = (sender, certificate, chain, errors) =>
            {
                targets.Add(((SslStream)sender).TargetHostName);
                return TlsClient.IsTestServer(sender, certificate, chain, errors);
            },
        };
        var options = new SocketClientOptions { Tls = tls };

        await using (await SocketClient.ConnectAsync(new DnsEndPoint("localhost", server.EndPoint.Port), options, Token))
        {
        }

        await using (await SocketClient.ConnectAsync(server.EndPoint, options, Token))
        {
        }

        Assert.Equal(["localhost", "127.0.0.1"], targets);
        Assert.True(string.IsNullOrEmpty(tls.TargetHost), tls.TargetHost);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_handshake_that_does_not_finish_within_the_connect_timeout_is_an_authentication_error()
    {
        // A plain server that never answers the ClientHello.
        var helloArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(async connection =>
        {
            var input = connection.Transport.Input;
            while (true)
            {
                var result = await input.ReadAsync();
                helloArrived.TrySetResult();
                input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    return;
                }
            }
        });
        var clock = new FakeTimeProvider();
        var options = new SocketClientOptions { ConnectTimeout = TimeSpan.FromSeconds(100), TimeProvider = clock, Tls = TrustTestServer() };

        var connecting = SocketClient.ConnectAsync(server.EndPoint, options, Token);
        await helloArrived.Task.WithTestTimeout();
        Assert.False(connecting.IsCompleted);
        clock.Advance(TimeSpan.FromSeconds(100));

        var error = await Assert.ThrowsAsync<AuthenticationException>(() => connecting.WithTestTimeout());
        Assert.IsType<TimeoutException>(error.InnerException);
        Assert.Contains("did not complete within 100 s", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_server_that_does_not_speak_TLS_is_an_authentication_error()
    {
        // The echo sends the ClientHello back: not what a TLS server answers.
        await using var server = await TestServer.StartAsync(new EchoHandler());

        var error = await Assert.ThrowsAsync<AuthenticationException>(() =>
            SocketClient.ConnectAsync(server.EndPoint, new SocketClientOptions { Tls = TrustTestServer() }, Token));

        Assert.StartsWith($"The TLS handshake with {server.EndPoint} failed: ", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task The_copy_with_a_target_host_keeps_every_other_setting()
    {
        var original = new SslClientAuthenticationOptions();
        var settable = typeof(SslClientAuthenticationOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(property => property.CanWrite && property.Name != nameof(SslClientAuthenticationOptions.TargetHost))
            .ToList();
        foreach (var property in settable)
        {
            property.SetValue(original, SampleValue(property));
        }

        var copy = ClientTls.WithTargetHost(original, "example.test");

        Assert.Equal("example.test", copy.TargetHost);
        Assert.All(settable, property => Assert.Equal(property.GetValue(original), property.GetValue(copy)));
        return Task.CompletedTask;
    }

    /// <summary>A value other than the default for each setting; a setting added to .NET fails here until the copy takes it.</summary>
    private static object SampleValue(PropertyInfo property) => property.Name switch
    {
        _ when property.PropertyType == typeof(bool) => !(bool)property.GetValue(new SslClientAuthenticationOptions())!,
        nameof(SslClientAuthenticationOptions.ApplicationProtocols) => new List<SslApplicationProtocol> { SslApplicationProtocol.Http2 },
        nameof(SslClientAuthenticationOptions.CertificateChainPolicy) => new X509ChainPolicy(),
        nameof(SslClientAuthenticationOptions.CertificateRevocationCheckMode) => X509RevocationMode.Offline,
        nameof(SslClientAuthenticationOptions.CipherSuitesPolicy) => OperatingSystem.IsWindows() ? null! : new CipherSuitesPolicy([TlsCipherSuite.TLS_AES_128_GCM_SHA256]),
        nameof(SslClientAuthenticationOptions.ClientCertificateContext) => SslStreamCertificateContext.Create(TestCertificates.Server, null, offline: true),
        nameof(SslClientAuthenticationOptions.ClientCertificates) => new X509CertificateCollection(),
        nameof(SslClientAuthenticationOptions.EnabledSslProtocols) => SslProtocols.Tls13,
        // AllowNoEncryption, without naming the obsolete member: only the copy is tested, no connection uses it.
        nameof(SslClientAuthenticationOptions.EncryptionPolicy) => (EncryptionPolicy)1,
        nameof(SslClientAuthenticationOptions.LocalCertificateSelectionCallback) => new LocalCertificateSelectionCallback((_, _, _, _, _) => null!),
        nameof(SslClientAuthenticationOptions.RemoteCertificateValidationCallback) => new RemoteCertificateValidationCallback((_, _, _, _) => false),
        _ => throw new InvalidOperationException($"SslClientAuthenticationOptions.{property.Name} is new: copy it in ClientTls.WithTargetHost, and give it a sample here."),
    };

    private static SslClientAuthenticationOptions TrustTestServer(SslProtocols protocols = SslProtocols.None) => new()
    {
        EnabledSslProtocols = protocols,
        RemoteCertificateValidationCallback = TlsClient.IsTestServer,
    };

    private static Task<TestServer> StartTlsServerAsync(ConnectionHandler handler) =>
        TestServer.StartAsync(handler, options => options.Listeners[0].Tls = new TlsOptions(TestCertificates.Server));
}
