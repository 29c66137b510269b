using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Sockeye.Tests.Infrastructure;
using static Sockeye.Tests.Protocols.ProxyHeaders;

namespace Sockeye.Tests.Protocols;

/// <summary><c>sockeye serve</c>'s PROXY protocol and Unix socket flags, end to end through the built tool.</summary>
public class ServeListenerFlagsTests
{
    [Fact(Timeout = Timeouts.Process)]
    public async Task A_PROXY_v2_header_from_a_trusted_proxy_shows_the_original_client_in_jsonl()
    {
        var (server, port) = await CliProcess.StartServerAsync(
            "--handler", "eof-echo", "--output", "jsonl", "--proxy-protocol", "--trusted-proxy", "127.0.0.1");
        await using var _ = server;

        using var proxy = await TestClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        await proxy.SendAsync((byte[])[.. V2Tcp(EndPoint("203.0.113.7:40000"), EndPoint("198.51.100.1:11000")), .. "relayed<EOF>"u8]);

        Assert.Equal("relayed<EOF>", await proxy.ReceiveTextToEndAsync());
        var lines = await server.WaitForStandardOutputLinesAsync(2);
        using var received = JsonDocument.Parse(lines[0]);
        Assert.Equal("203.0.113.7:40000", received.RootElement.GetProperty("remote").GetString());
        Assert.Equal("relayed<EOF>", received.RootElement.GetProperty("data").GetString());
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task A_peer_outside_the_trusted_proxies_is_refused_and_never_reported()
    {
        var (server, port) = await CliProcess.StartServerAsync(
            "--handler", "eof-echo", "--output", "jsonl", "--proxy-protocol", "--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "fd00::/8");
        await using var _ = server;

        // The server resets the connection as soon as it accepts it, so the reset may reach the client while it is still
        // connecting or sending, not only while it reads: wherever it lands, it is the same refusal.
        var error = await Assert.ThrowsAsync<SocketException>(async () =>
        {
            using var client = await TestClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
            await client.SendAsync((byte[])[.. V2Tcp(EndPoint("203.0.113.7:40000"), EndPoint("198.51.100.1:11000")), .. "spoofed<EOF>"u8]);
            await client.ReceiveToEndAsync();
        });
        Assert.Equal(SocketError.ConnectionReset, error.SocketErrorCode);
        await server.WaitForStandardErrorAsync(@"^Connection \d+: refused 127\.0\.0\.1:\d+, which is not a trusted proxy$");
        server.Signal(PosixSignal.SIGTERM);
        Assert.Equal(0, await server.WaitForExitAsync());
        Assert.Empty(server.StandardOutput);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Serve_listens_on_a_Unix_socket_alone_and_removes_it_when_it_stops()
    {
        var directory = Directory.CreateTempSubdirectory("sockeye-unix-");
        try
        {
            var path = Path.Combine(directory.FullName, "sockeye.sock");
            await using var server = CliProcess.Start("serve", "--unix", path, "--handler", "eof-echo");
            await server.WaitForStandardErrorAsync($"^Listening on {System.Text.RegularExpressions.Regex.Escape(path)}$");

            using (var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), TestContext.Current.CancellationToken);
                await socket.SendAsync("over a Unix socket<EOF>"u8.ToArray(), SocketFlags.None, TestContext.Current.CancellationToken);
                var reply = new byte[64];
                var length = 0;
                int read;
                while ((read = await socket.ReceiveAsync(reply.AsMemory(length), SocketFlags.None, TestContext.Current.CancellationToken)) > 0)
                {
                    length += read;
                }

                Assert.Equal("over a Unix socket<EOF>", Encoding.UTF8.GetString(reply, 0, length));
            }

            // Only the socket: without --host there is no TCP listener.
            Assert.DoesNotContain(server.StandardError, line => line.Contains("127.0.0.1", StringComparison.Ordinal));
            server.Signal(PosixSignal.SIGTERM);
            Assert.Equal(0, await server.WaitForExitAsync());
            Assert.False(File.Exists(path));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Theory(Timeout = Timeouts.Process)]
    [InlineData("Sockeye:EndpointDefaults:ProxyProtocol: the PROXY protocol needs TrustedProxies", "--proxy-protocol")]
    [InlineData("Sockeye:EndpointDefaults:ProxyProtocol applies to no endpoint", "--proxy-header-timeout", "3")]
    [InlineData("Sockeye:EndpointDefaults:ProxyProtocol:TrustedProxies:0: 'banana' is not an IP address", "--proxy-protocol", "--trusted-proxy", "banana")]
    [InlineData("write 10.0.0.0/8 for the network, or 10.0.0.1 for one address", "--trusted-proxy", "10.0.0.1/8")]
    [InlineData("Sockeye:EndpointDefaults:Tls:Certificate: TLS needs a certificate", "--tls-key", "server.key")]
    [InlineData("Sockeye:EndpointDefaults:Tls applies to no endpoint", "--tls-client-ca", "ca.crt")]
    [InlineData("Sockeye:EndpointDefaults:Tls applies to no endpoint", "--tls-handshake-timeout", "3")]
    [InlineData("--proxy-header-timeout must be a number of seconds above 0", "--proxy-header-timeout", "0")]
    [InlineData("--tls-handshake-timeout must be a number of seconds above 0 such as 30 or 2.5, at most 4294967 (about 49.7 days", "--tls-handshake-timeout", "5000000")]
    public async Task Listener_flags_that_do_not_fit_together_are_a_usage_error(string message, params string[] arguments)
    {
        var serve = await CliProcess.RunAsync(["serve", "--port", "0", .. arguments]);

        Assert.Equal(2, serve.ExitCode);
        var line = Assert.Single(serve.StandardError);
        Assert.Contains(message, line, StringComparison.Ordinal);
    }
}
