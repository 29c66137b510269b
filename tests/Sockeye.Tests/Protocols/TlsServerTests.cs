using System.Security.Authentication;
using System.Security.Cryptography;
using Sockeye.Cli.Handlers;
using Sockeye.Handlers;
using Sockeye.Protocols;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Protocols;

public class TlsServerTests
{
    [Theory(Timeout = Timeouts.Network)]
    [InlineData(SslProtocols.Tls12)]
    [InlineData(SslProtocols.Tls13)]
    public async Task A_TLS_client_gets_an_echo_and_a_clean_close(SslProtocols protocol)
    {
        await using var server = await StartAsync(new EofEchoHandler(HandlerOutput.Null));
        await using var client = await TlsClient.ConnectAsync(server.EndPoint, protocol);

        await client.SendAsync("over TLS<EOF>");

        Assert.Equal("over TLS<EOF>", await client.ReceiveTextToEndAsync());
        Assert.Equal(protocol, client.Ssl.SslProtocol);
        await server.Logs.WaitForAsync(r => r.EventId.Id == 47);

        // The server finishes the connection on its own, while this client still holds its end open.
        await server.Logs.WaitForAsync(r => r.EventId.Id == 11 && r.Message.Contains(": ServerClosed;", StringComparison.Ordinal));
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_client_that_ends_its_TLS_stream_first_closed_the_connection_even_before_its_FIN()
    {
        await using var server = await StartAsync(new EchoHandler());
        await using var client = await TlsClient.ConnectAsync(server.EndPoint);
        await client.SendAsync("hi");
        var echoed = new byte[2];
        await client.Ssl.ReadExactlyAsync(echoed, TestContext.Current.CancellationToken);

        // close_notify, and no FIN: the server's handler ends on the TLS stream's end alone.
        await client.Ssl.ShutdownAsync();

        await server.Logs.WaitForAsync(r => r.EventId.Id == 11 && r.Message.Contains(": ClientClosed;", StringComparison.Ordinal));
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Large_transfers_keep_their_bytes_and_their_order_both_ways()
    {
        await using var server = await StartAsync(new EchoHandler());
        await using var client = await TlsClient.ConnectAsync(server.EndPoint);
        var payload = RandomNumberGenerator.GetBytes(3 * 1024 * 1024 + 17);

        // Write and read at once: the echo stalls on backpressure if the client does not read.
        var sending = Task.Run(async () =>
        {
            for (var offset = 0; offset < payload.Length; offset += 50_000)
            {
                await client.Ssl.WriteAsync(payload.AsMemory(offset, Math.Min(50_000, payload.Length - offset)), TestContext.Current.CancellationToken);
            }

            await client.Ssl.ShutdownAsync();
        }, TestContext.Current.CancellationToken);
        using var received = new MemoryStream();
        await client.Ssl.CopyToAsync(received, TestContext.Current.CancellationToken);
        await sending;

        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(received.ToArray()));
    }

    [Theory(Timeout = Timeouts.Network)]
    [InlineData("garbage", ConnectionEndReason.TlsHandshakeFailed)]
    [InlineData("plaintext", ConnectionEndReason.TlsHandshakeFailed)]
    [InlineData("truncated ClientHello", ConnectionEndReason.TlsHandshakeTimeout)]
    public async Task A_client_that_does_not_speak_TLS_ends_its_own_connection_only(string kind, ConnectionEndReason reason)
    {
        var output = new RecordingOutput();
        await using var server = await StartAsync(new EofEchoHandler(output), handshakeTimeout: TimeSpan.FromSeconds(1));
        using var bad = await server.ConnectAsync();
        byte[] bytes = kind switch
        {
            "garbage" => [0x00, 0xFF, 0x13, 0x37, .. RandomNumberGenerator.GetBytes(300)],
            "plaintext" => "hello, is this TLS?<EOF>\r\n"u8.ToArray(),

            // A handshake record announcing 512 bytes, then the start of a ClientHello, then silence.
            _ => [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03],
        };
        await bad.SendAsync(bytes);

        // While the bad client is connected, a good one is served.
        await using (var good = await TlsClient.ConnectAsync(server.EndPoint))
        {
            await good.SendAsync("still served<EOF>");
            Assert.Equal("still served<EOF>", await good.ReceiveTextToEndAsync());
        }

        // The bad one is closed, and no handler ever saw its bytes.
        await ReceiveUntilClosedAsync(bad);
        await server.Logs.WaitForAsync(r => r.EventId.Id == 11 && r.Message.Contains($": {reason};", StringComparison.Ordinal));
        Assert.Equal(["Read 17 bytes from socket.", " Data : still served<EOF>", "Sent 17 bytes to client."], output.Lines);
        Assert.DoesNotContain(server.Logs.Records, r => r.Level >= Microsoft.Extensions.Logging.LogLevel.Warning);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_client_that_connects_and_leaves_without_a_byte_is_not_a_failed_handshake()
    {
        await using var server = await StartAsync(new EofEchoHandler(HandlerOutput.Null));
        using (var silent = await server.ConnectAsync())
        {
            silent.HalfClose();
            await ReceiveUntilClosedAsync(silent);
        }

        await server.Logs.WaitForAsync(r => r.EventId.Id == 11 && r.Message.Contains(": ClientClosed;", StringComparison.Ordinal));
        Assert.DoesNotContain(server.Logs.Records, r => r.EventId.Id == 45);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Bytes_that_break_the_TLS_stream_after_the_handshake_end_it_as_a_protocol_error()
    {
        var handlerFailed = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await StartAsync(ConnectionHandler.Create(async connection =>
        {
            try
            {
                while (!(await connection.Transport.Input.ReadAsync()).IsCompleted)
                {
                }
            }
            catch (Exception ex)
            {
                handlerFailed.TrySetResult(ex);
                throw;
            }
        }));
        await using var client = await TlsClient.ConnectAsync(server.EndPoint);

        // An application data record whose contents cannot decrypt.
        await client.Tcp.SendAsync((byte[])[0x17, 0x03, 0x03, 0x00, 0x20, .. RandomNumberGenerator.GetBytes(32)]);

        await handlerFailed.Task.WithTestTimeout();
        await server.Logs.WaitForAsync(r => r.EventId.Id == 11 && r.Message.Contains(": ProtocolError;", StringComparison.Ordinal));
        Assert.Contains(server.Logs.Records, r => r.EventId.Id == 48);
        Assert.DoesNotContain(server.Logs.Records, r => r.Level >= Microsoft.Extensions.Logging.LogLevel.Warning);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Required_client_certificates_must_come_from_the_configured_authority()
    {
        using var authority = TestCertificates.CreateAuthority("CN=Sockeye Test CA");
        using var stranger = TestCertificates.CreateAuthority("CN=Someone Else");
        using var trusted = TestCertificates.IssueClient(authority, "CN=trusted client");
        using var untrusted = TestCertificates.IssueClient(stranger, "CN=untrusted client");
        await using var server = await StartAsync(new EofEchoHandler(HandlerOutput.Null), configure: tls =>
        {
            tls.ClientCertificateMode = ClientCertificateMode.Require;
            tls.ClientCertificateAuthorities.Add(authority);
        });

        await using (var client = await TlsClient.ConnectAsync(server.EndPoint, certificate: trusted))
        {
            await client.SendAsync("mutual<EOF>");
            Assert.Equal("mutual<EOF>", await client.ReceiveTextToEndAsync());
        }

        // A TLS 1.3 client finishes its side of the handshake before the server has judged its certificate, so it
        // learns of the refusal only when it reads: an error or an empty stream, never an echo.
        foreach (var certificate in new[] { untrusted, null })
        {
            string? reply;
            try
            {
                await using var client = await TlsClient.ConnectAsync(server.EndPoint, certificate: certificate);
                await client.SendAsync("let me in<EOF>");
                reply = await client.ReceiveTextToEndAsync();
            }
            catch (Exception ex) when (ex is IOException or AuthenticationException)
            {
                reply = null;
            }

            Assert.True(string.IsNullOrEmpty(reply), reply);
        }

        await server.Logs.WaitForAsync(r => r.EventId.Id == 11 && r.Message.Contains(": TlsHandshakeFailed;", StringComparison.Ordinal));
        Assert.Equal(2, server.Logs.Records.Count(r => r.EventId.Id == 45));
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Allowed_client_certificates_are_optional()
    {
        await using var server = await StartAsync(new EofEchoHandler(HandlerOutput.Null), configure: tls => tls.ClientCertificateMode = ClientCertificateMode.Allow);
        await using var client = await TlsClient.ConnectAsync(server.EndPoint);

        await client.SendAsync("no certificate<EOF>");

        Assert.Equal("no certificate<EOF>", await client.ReceiveTextToEndAsync());
    }

    internal static async Task ReceiveUntilClosedAsync(TestClient client)
    {
        try
        {
            await client.ReceiveToEndAsync();
        }
        catch (System.Net.Sockets.SocketException ex) when (ex.SocketErrorCode == System.Net.Sockets.SocketError.ConnectionReset)
        {
            // An aborted connection ends with a reset: closed all the same.
        }
    }

    private static Task<TestServer> StartAsync(ConnectionHandler handler, TimeSpan? handshakeTimeout = null, Action<TlsOptions>? configure = null) =>
        TestServer.StartAsync(handler, options =>
        {
            var tls = new TlsOptions(TestCertificates.Server);
            if (handshakeTimeout is { } timeout)
            {
                tls.HandshakeTimeout = timeout;
            }

            configure?.Invoke(tls);
            options.Listeners[0].Tls = tls;
        });
}
