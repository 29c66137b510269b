using System.Net;
using System.Net.Sockets;
using System.Text;
using Sockeye.Cli.Handlers;
using Sockeye.Protocols;
using Sockeye.Tests.Infrastructure;
using static Sockeye.Tests.Protocols.ProxyHeaders;

namespace Sockeye.Tests.Protocols;

/// <summary>Kinds of listener: Unix domain sockets, IPv6 dual mode, SO_REUSEPORT, and several listeners with their own layers.</summary>
public class ListenerKindsTests
{
    [Fact(Timeout = Timeouts.Network)]
    public async Task Listeners_in_one_server_each_keep_their_own_layers()
    {
        var proxyProtocol = new ProxyProtocolOptions { TrustedProxies = { IPNetwork.Parse("127.0.0.0/8") } };
        var options = new SocketServerOptions();
        options.Listen(IPAddress.Loopback, 0);
        options.Listen(IPAddress.Loopback, 0).Tls = new TlsOptions(TestCertificates.Server);
        var both = options.Listen(IPAddress.Loopback, 0);
        both.Tls = new TlsOptions(TestCertificates.Server);
        both.ProxyProtocol = proxyProtocol;
        var remotes = new List<string>();
        await using var server = new SocketServer(options, ConnectionHandler.Create(async connection =>
        {
            lock (remotes)
            {
                remotes.Add(connection.RemoteEndPoint!.ToString()!);
            }

            await new EofEchoHandler(HandlerOutput.Null).OnConnectedAsync(connection);
        }));
        await server.StartAsync(TestContext.Current.CancellationToken);

        using (var plain = await TestClient.ConnectAsync(server.EndPoints[0]))
        {
            await plain.SendAsync("plain<EOF>");
            Assert.Equal("plain<EOF>", await plain.ReceiveTextToEndAsync());
        }

        await using (var tls = await TlsClient.ConnectAsync(server.EndPoints[1]))
        {
            await tls.SendAsync("tls<EOF>");
            Assert.Equal("tls<EOF>", await tls.ReceiveTextToEndAsync());
        }

        // The PROXY header comes first, in the clear; the TLS handshake follows it.
        var header = V2Tcp(EndPoint("192.0.2.99:4444"), EndPoint("198.51.100.1:443"));
        await using (var proxied = await TlsClient.ConnectAsync(server.EndPoints[2], preface: header))
        {
            await proxied.SendAsync("proxied tls<EOF>");
            Assert.Equal("proxied tls<EOF>", await proxied.ReceiveTextToEndAsync());
        }

        Assert.Equal("192.0.2.99:4444", remotes[^1]);
        Assert.StartsWith("127.0.0.1:", remotes[0], StringComparison.Ordinal);

        // Plain bytes on the TLS listener are a failed handshake there, not an echo.
        using var wrong = await TestClient.ConnectAsync(server.EndPoints[1]);
        await wrong.SendAsync("plain<EOF>");
        Assert.Empty(await wrong.ReceiveToEndAsync());
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task The_IPv6_wildcard_accepts_IPv4_clients_unless_dual_mode_is_off()
    {
        Assert.SkipUnless(Socket.OSSupportsIPv6, "IPv6 is off on this machine.");
        EndPoint? seen = null;
        await using var dual = await TestServer.StartAsync(async connection =>
        {
            seen = connection.RemoteEndPoint;
            await connection.Transport.Output.WriteAsync("hi"u8.ToArray());
        }, options => options.Listeners[0] = new ListenerOptions(new IPEndPoint(IPAddress.IPv6Any, 0)));

        using (var client = await TestClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, dual.EndPoint.Port)))
        {
            Assert.Equal("hi", await client.ReceiveTextToEndAsync());
        }

        Assert.Equal(IPAddress.Parse("::ffff:127.0.0.1"), ((IPEndPoint)seen!).Address);

        await using var v6Only = await TestServer.StartAsync(_ => Task.CompletedTask, options =>
            options.Listeners[0] = new ListenerOptions(new IPEndPoint(IPAddress.IPv6Any, 0)) { DualMode = false });
        var refused = await Assert.ThrowsAsync<SocketException>(() => TestClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, v6Only.EndPoint.Port)));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        using var v6 = await TestClient.ConnectAsync(new IPEndPoint(IPAddress.IPv6Loopback, v6Only.EndPoint.Port));
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task With_reuse_port_two_servers_share_one_port_and_both_serve()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "SO_REUSEPORT load balancing is Linux behaviour.");
        var served = new int[2];
        await using var first = await TestServer.StartAsync(Count(served, 0), options => options.Listeners[0].ReusePort = true);
        await using var second = await TestServer.StartAsync(Count(served, 1), options =>
            options.Listeners[0] = new ListenerOptions(first.EndPoint) { ReusePort = true });
        Assert.Equal(first.EndPoint, second.EndPoint);

        // The kernel spreads connections by a hash of their addresses: enough of them reach both.
        for (var i = 0; i < 200 && (Volatile.Read(ref served[0]) == 0 || Volatile.Read(ref served[1]) == 0); i++)
        {
            using var client = await TestClient.ConnectAsync(first.EndPoint);
            Assert.Equal("ok", await client.ReceiveTextToEndAsync());
        }

        Assert.All(served, count => Assert.True(count > 0));

        // Without it, the same port is in use.
        var options = new SocketServerOptions();
        options.Listen(first.EndPoint);
        await using var third = new SocketServer(options, _ => Task.CompletedTask);
        await Assert.ThrowsAsync<AddressInUseException>(() => third.StartAsync(TestContext.Current.CancellationToken));
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_Unix_socket_listener_serves_and_its_file_goes_when_the_server_stops()
    {
        var directory = Directory.CreateTempSubdirectory("sockeye-unix-");
        try
        {
            var path = Path.Combine(directory.FullName, "s.sock");
            var options = new SocketServerOptions();
            options.Listen(new UnixDomainSocketEndPoint(path));
            var server = new SocketServer(options, async connection =>
                await connection.Transport.Output.WriteAsync(Encoding.UTF8.GetBytes($"local {connection.LocalEndPoint}")));
            await server.StartAsync(TestContext.Current.CancellationToken);

            Assert.Equal(path, server.EndPoints[0].ToString());
            Assert.Equal($"local {path}", await ReadUnixAsync(path));

            // A second server on the same path is told it is in use, and does not take the file away.
            var again = new SocketServerOptions();
            again.Listen(new UnixDomainSocketEndPoint(path));
            await using (var rival = new SocketServer(again, _ => Task.CompletedTask))
            {
                var error = await Assert.ThrowsAsync<AddressInUseException>(() => rival.StartAsync(TestContext.Current.CancellationToken));
                Assert.Equal($"Unix socket {path} is in use by another server.", error.Message);
            }

            Assert.True(File.Exists(path));
            await server.StopAsync(TestContext.Current.CancellationToken);
            Assert.False(File.Exists(path));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_file_left_at_a_Unix_socket_path_is_reported_and_left_alone()
    {
        var directory = Directory.CreateTempSubdirectory("sockeye-unix-");
        try
        {
            var path = Path.Combine(directory.FullName, "s.sock");
            await File.WriteAllTextAsync(path, "not a socket", TestContext.Current.CancellationToken);
            var options = new SocketServerOptions();
            options.Listen(new UnixDomainSocketEndPoint(path));
            await using var server = new SocketServer(options, _ => Task.CompletedTask);

            var error = await Assert.ThrowsAsync<AddressInUseException>(() => server.StartAsync(TestContext.Current.CancellationToken));

            // Was "no server answers on it; remove it if nothing uses it", as for a socket left by a crash.
            Assert.Contains(OperatingSystem.IsLinux() ? "already exists and is not a socket; it is left as it is" : "already exists", error.Message, StringComparison.Ordinal);
            Assert.Equal("not a socket", await File.ReadAllTextAsync(path, TestContext.Current.CancellationToken));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_socket_left_at_a_Unix_socket_path_is_reported_as_one_no_server_answers_on()
    {
        var directory = Directory.CreateTempSubdirectory("sockeye-unix-");
        try
        {
            var path = Path.Combine(directory.FullName, "s.sock");
            // Bound and not listening, as a crashed server's file is: .NET removes the file when the socket is disposed.
            using var stale = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            stale.Bind(new UnixDomainSocketEndPoint(path));

            var options = new SocketServerOptions();
            options.Listen(new UnixDomainSocketEndPoint(path));
            await using var server = new SocketServer(options, _ => Task.CompletedTask);

            var error = await Assert.ThrowsAsync<AddressInUseException>(() => server.StartAsync(TestContext.Current.CancellationToken));

            Assert.Contains("already exists and no server answers on it; remove it if nothing uses it", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_Unix_socket_path_in_a_directory_that_does_not_exist_says_so()
    {
        // Was: "Address ... is not available on this machine."
        var missing = Path.Combine(Path.GetTempPath(), $"sockeye-missing-{Guid.NewGuid():N}");
        var options = new SocketServerOptions();
        options.Listen(new UnixDomainSocketEndPoint(Path.Combine(missing, "s.sock")));
        await using var server = new SocketServer(options, _ => Task.CompletedTask);

        var error = await Assert.ThrowsAsync<IOException>(() => server.StartAsync(TestContext.Current.CancellationToken));

        Assert.Equal($"Unix socket path {Path.Combine(missing, "s.sock")}: the directory {missing} does not exist.", error.Message);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Reuse_port_does_not_apply_to_a_Unix_socket()
    {
        var options = new SocketServerOptions();
        options.Listen(new UnixDomainSocketEndPoint("/tmp/never-bound.sock")).ReusePort = true;
        await using var server = new SocketServer(options, _ => Task.CompletedTask);

        await Assert.ThrowsAsync<InvalidOperationException>(() => server.StartAsync(TestContext.Current.CancellationToken));
    }

    private static Func<Connection, Task> Count(int[] served, int index) => async connection =>
    {
        Interlocked.Increment(ref served[index]);
        await connection.Transport.Output.WriteAsync("ok"u8.ToArray());
    };

    private static async Task<string> ReadUnixAsync(string path)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), TestContext.Current.CancellationToken);
        using var stream = new NetworkStream(socket);
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync(TestContext.Current.CancellationToken);
    }
}
