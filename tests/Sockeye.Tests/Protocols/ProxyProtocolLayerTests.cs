using System.Net;
using System.Net.Sockets;
using System.Text;
using Sockeye.Protocols;
using Sockeye.Tests.Infrastructure;
using Sockeye.Transport;
using static Sockeye.Tests.Protocols.ProxyHeaders;

namespace Sockeye.Tests.Protocols;

public class ProxyProtocolLayerTests
{
    private static readonly IPEndPoint s_proxy = EndPoint("10.1.2.3:50000");
    private static readonly IPEndPoint s_client = EndPoint("203.0.113.7:40000");
    private static readonly IPEndPoint s_frontend = EndPoint("198.51.100.1:11000");

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_peer_that_is_not_a_trusted_proxy_is_refused_before_anything_is_read()
    {
        using var harness = Harness();
        var connection = new InMemoryConnection(remoteEndPoint: EndPoint("192.0.2.50:1234"));
        await connection.Client.Output.WriteAsync(V2Tcp(s_client, s_frontend), TestContext.Current.CancellationToken);

        await harness.RunAsync(connection, _ => Task.CompletedTask).WithTestTimeout();

        Assert.Equal(0, harness.HandlerRuns);
        Assert.Equal(ConnectionEndReason.UntrustedProxy, connection.EndReason);
        Assert.Equal(EndPoint("192.0.2.50:1234"), connection.RemoteEndPoint);
        Assert.Contains(harness.Logs.Records, r => r.EventId.Id == 40 && r.Message.Contains("192.0.2.50:1234", StringComparison.Ordinal));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_peer_gone_before_its_address_was_read_is_a_reset_not_an_untrusted_proxy()
    {
        // Was: "refused (null), which is not a trusted proxy" at Information, counted as untrusted, for HAProxy's health
        // checks (a LOCAL header, then a reset) whenever the reset came before the address was read.
        using var harness = Harness();
        var connection = new InMemoryConnection { RemoteEndPoint = null };
        await connection.Client.Output.WriteAsync(V2(Local, Unspecified, []), TestContext.Current.CancellationToken);

        await harness.RunAsync(connection, _ => Task.CompletedTask).WithTestTimeout();

        Assert.Equal(0, harness.HandlerRuns);
        Assert.Equal(ConnectionEndReason.ConnectionReset, connection.EndReason);
        Assert.DoesNotContain(harness.Logs.Records, r => r.EventId.Id == 40);
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("::ffff:10.0.0.5", true)] // an IPv4 proxy on a dual-mode listener
    [InlineData("::ffff:192.0.2.1", false)]
    [InlineData("10.255.255.255", true)]
    [InlineData("11.0.0.1", false)]
    [InlineData("fd00::1", false)]
    public async Task Trust_is_decided_by_the_proxy_networks(string peer, bool trusted)
    {
        using var harness = Harness();
        var connection = new InMemoryConnection(remoteEndPoint: new IPEndPoint(IPAddress.Parse(peer), 1));
        await connection.Client.Output.WriteAsync(V2Tcp(s_client, s_frontend), TestContext.Current.CancellationToken);
        connection.Client.Output.Complete();

        await harness.RunAsync(connection, _ => Task.CompletedTask).WithTestTimeout();

        Assert.Equal(trusted ? 1 : 0, harness.HandlerRuns);
        Assert.Equal(trusted ? s_client : new IPEndPoint(IPAddress.Parse(peer), 1), connection.RemoteEndPoint);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Peers_on_a_Unix_domain_socket_are_trusted_by_the_socket_file_permissions()
    {
        using var harness = Harness();
        var connection = new InMemoryConnection(remoteEndPoint: new UnixDomainSocketEndPoint("/run/sockeye.sock"));
        await connection.Client.Output.WriteAsync(V2Tcp(s_client, s_frontend), TestContext.Current.CancellationToken);
        connection.Client.Output.Complete();

        await harness.RunAsync(connection, _ => Task.CompletedTask).WithTestTimeout();

        Assert.Equal(s_client, connection.RemoteEndPoint);
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData(2)]
    [InlineData(1)]
    public async Task A_trusted_header_shows_the_client_and_the_bytes_after_it_reach_the_handler_at_once(int version)
    {
        using var harness = Harness();
        var connection = new InMemoryConnection(remoteEndPoint: s_proxy);
        var header = version == 2 ? V2Tcp(s_client, s_frontend) : V1("PROXY TCP4 203.0.113.7 198.51.100.1 40000 11000\r\n");

        // Header and data in one write, and the client then waits for a reply: a layer that marked the data as
        // examined would leave the handler's first read waiting forever.
        await connection.Client.Output.WriteAsync((byte[])[.. header, .. "hello"u8], TestContext.Current.CancellationToken);
        string? received = null;
        (EndPoint? Remote, EndPoint? Local) seen = default;
        await harness.RunAsync(connection, async c =>
        {
            var result = await c.Transport.Input.ReadAsync();
            received = Encoding.ASCII.GetString(result.Buffer);
            c.Transport.Input.AdvanceTo(result.Buffer.End);
            seen = (c.RemoteEndPoint, c.LocalEndPoint);
        }).WithTestTimeout();

        Assert.Equal("hello", received);
        Assert.Equal(s_client, seen.Remote);
        Assert.Equal(s_frontend, seen.Local);
        Assert.Contains(harness.Logs.Records, r => r.EventId.Id == 43);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_header_delivered_one_byte_at_a_time_is_read_whole()
    {
        using var harness = Harness(trust: "127.0.0.1/32");
        var header = V1("PROXY TCP6 2001:db8::7 2001:db8::1 40000 11000\r\n");
        var connection = InMemory.WithInput(ScriptedPipeReader.ByteByByte([.. header, .. "hi<EOF>"u8]));
        var received = new StringBuilder();

        await harness.RunAsync(connection, async c =>
        {
            while (true)
            {
                var result = await c.Transport.Input.ReadAsync();
                received.Append(Encoding.ASCII.GetString(result.Buffer));
                c.Transport.Input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    return;
                }
            }
        }).WithTestTimeout();

        Assert.Equal("hi<EOF>", received.ToString());
        Assert.Equal(EndPoint("[2001:db8::7]:40000"), connection.RemoteEndPoint);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_header_not_whole_by_the_deadline_ends_the_connection()
    {
        using var harness = Harness();
        var connection = new InMemoryConnection(remoteEndPoint: s_proxy);
        await connection.Client.Output.WriteAsync(V1("PROXY TCP4 203.0.113.7"), TestContext.Current.CancellationToken);

        await harness.RunUntilDeadlineAsync(connection, TimeSpan.FromSeconds(5));

        Assert.Equal(0, harness.HandlerRuns);
        Assert.Equal(ConnectionEndReason.ProxyHeaderTimeout, connection.EndReason);
        Assert.Contains(harness.Logs.Records, r => r.EventId.Id == 42);
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("GET / HTTP/1.1\r\n\r\n", false)]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", false)]
    [InlineData("PROXY TCP4 1.2.3.4", true)] // the stream ends inside the header
    public async Task An_invalid_or_cut_short_header_ends_the_connection(string bytes, bool thenEnd)
    {
        using var harness = Harness();
        var connection = new InMemoryConnection(remoteEndPoint: s_proxy);
        await connection.Client.Output.WriteAsync(V1(bytes), TestContext.Current.CancellationToken);
        if (thenEnd)
        {
            connection.Client.Output.Complete();
        }

        await harness.RunAsync(connection, _ => Task.CompletedTask).WithTestTimeout();

        Assert.Equal(0, harness.HandlerRuns);
        Assert.Equal(ConnectionEndReason.ProxyHeaderInvalid, connection.EndReason);
        Assert.Contains(harness.Logs.Records, r => r.EventId.Id == 41);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_proxy_that_connects_and_closes_without_a_byte_ends_quietly()
    {
        using var harness = Harness();
        var connection = new InMemoryConnection(remoteEndPoint: s_proxy);
        connection.Client.Output.Complete();

        await harness.RunAsync(connection, _ => Task.CompletedTask).WithTestTimeout();

        Assert.Equal(0, harness.HandlerRuns);
        Assert.Equal(ConnectionEndReason.ServerClosed, connection.EndReason);
        Assert.DoesNotContain(harness.Logs.Records, r => r.EventId.Id is 41 or 42);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_LOCAL_health_check_that_sends_nothing_more_never_reaches_the_handler()
    {
        using var harness = Harness();
        var connection = new InMemoryConnection(remoteEndPoint: s_proxy);
        await connection.Client.Output.WriteAsync(V2(Local, Unspecified, []), TestContext.Current.CancellationToken);
        connection.Client.Output.Complete();

        await harness.RunAsync(connection, _ => Task.CompletedTask).WithTestTimeout();

        Assert.Equal(0, harness.HandlerRuns);
        Assert.Equal(s_proxy, connection.RemoteEndPoint);
        Assert.Contains(harness.Logs.Records, r => r.EventId.Id == 44);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_LOCAL_connection_that_sends_data_is_served_with_the_real_endpoints()
    {
        using var harness = Harness();
        var connection = new InMemoryConnection(remoteEndPoint: s_proxy);
        await connection.Client.Output.WriteAsync((byte[])[.. V2(Local, Tcp4, Addresses(s_client, s_frontend)), .. "ping"u8], TestContext.Current.CancellationToken);
        string? received = null;

        await harness.RunAsync(connection, async c =>
        {
            var result = await c.Transport.Input.ReadAsync();
            received = Encoding.ASCII.GetString(result.Buffer);
            c.Transport.Input.AdvanceTo(result.Buffer.End);
        }).WithTestTimeout();

        Assert.Equal("ping", received);
        Assert.Equal(s_proxy, connection.RemoteEndPoint);
        Assert.Equal(EndPoint("127.0.0.1:11000"), connection.LocalEndPoint);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_listener_that_takes_the_PROXY_protocol_with_no_trusted_proxy_does_not_start()
    {
        var options = new SocketServerOptions();
        options.Listen(IPAddress.Loopback, 0).ProxyProtocol = new ProxyProtocolOptions();
        await using var server = new SocketServer(options, _ => Task.CompletedTask);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => server.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains("trusted proxy", error.Message, StringComparison.Ordinal);
        Assert.Empty(server.EndPoints);
    }

    private static LayerHarness Harness(string trust = "10.0.0.0/8") => new(listener =>
    {
        listener.ProxyProtocol = new ProxyProtocolOptions();
        listener.ProxyProtocol.TrustedProxies.Add(IPNetwork.Parse(trust));
    });
}
