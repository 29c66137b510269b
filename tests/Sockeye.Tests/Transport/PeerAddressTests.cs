using System.Net;
using System.Net.Sockets;
using Sockeye.Tests.Infrastructure;
using Sockeye.Transport.Linux;

namespace Sockeye.Tests.Transport;

/// <summary>The client's address is known from the accept on, even for a client that resets before it is asked for.</summary>
public class PeerAddressTests
{
    public static TheoryData<string> Loopbacks => ["127.0.0.1", "::1"];

    [Theory(Timeout = Timeouts.Network)]
    [MemberData(nameof(Loopbacks))]
    public async Task A_client_that_resets_at_once_still_has_its_address(string loopback)
    {
        var address = IPAddress.Parse(loopback);
        Assert.SkipWhen(address.AddressFamily == AddressFamily.InterNetworkV6 && !Socket.OSSupportsIPv6, "IPv6 is off on this machine.");
        var seen = new TaskCompletionSource<EndPoint?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(async connection =>
        {
            // Nothing asks for the address until the client is gone.
            try
            {
                while (!(await connection.Transport.Input.ReadAsync()).IsCompleted)
                {
                }
            }
            catch (Exception ex) when (ex is ConnectionResetException or IOException)
            {
            }

            seen.TrySetResult(connection.RemoteEndPoint);
        }, options => options.Listeners[0] = new ListenerOptions(new IPEndPoint(address, 0)));

        using var client = await TestClient.ConnectAsync(server.EndPoint);
        var clientEndPoint = client.Socket.LocalEndPoint;
        client.Reset();

        Assert.Equal(clientEndPoint, await seen.Task);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task The_accepted_address_is_read_from_the_kernels_layout()
    {
        // sockaddr_in: family 2 (machine order), port 8080 and 192.0.2.7 (network order).
        byte[] v4 = [2, 0, 0x1F, 0x90, 192, 0, 2, 7, 0, 0, 0, 0, 0, 0, 0, 0];
        var peer = PeerAddress.From(AddressFamily.InterNetwork, v4, v4.Length);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("192.0.2.7"), 8080), peer.ToEndPoint());
        Assert.Equal(AddressFamily.InterNetwork, peer.Family);

        // sockaddr_in6: family 10, port 443, flow 0, 2001:db8::7, scope 0.
        var v6 = new byte[PeerAddress.BufferSize];
        v6[0] = 10;
        v6[2] = 0x01;
        v6[3] = 0xBB;
        IPAddress.Parse("2001:db8::7").GetAddressBytes().CopyTo(v6, 8);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("2001:db8::7"), 443), PeerAddress.From(AddressFamily.InterNetworkV6, v6, v6.Length).ToEndPoint());

        // A scoped address is not kept (it is read from the socket instead), nor is a Unix socket's peer.
        v6[24] = 3;
        Assert.False(PeerAddress.From(AddressFamily.InterNetworkV6, v6, v6.Length).HasValue);
        Assert.False(PeerAddress.None(AddressFamily.Unix).HasValue);
        Assert.Equal(AddressFamily.Unix, PeerAddress.None(AddressFamily.Unix).Family);
        return Task.CompletedTask;
    }
}
