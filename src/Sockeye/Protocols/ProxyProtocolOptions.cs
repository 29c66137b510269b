using System.Net;
using System.Net.Sockets;

namespace Sockeye.Protocols;

/// <summary>
/// The PROXY protocol (versions 1 and 2, as HAProxy specifies it) on one listener: a proxy in front of the server
/// tells it who the real client is. <see cref="Connection.RemoteEndPoint"/> then shows the original client, and
/// <see cref="Connection.LocalEndPoint"/> the address that client connected to.
/// </summary>
/// <remarks>
/// A listener that takes the PROXY protocol requires it: every connection must begin with a header, and only peers in
/// <see cref="TrustedProxies"/> may connect at all; anyone else could claim to be any client. Peers on a Unix domain
/// socket are trusted: the socket file's permissions decide who can connect. A version 2 LOCAL header (a proxy's own
/// health check) keeps the real peer, and such a connection reaches the handler only once it sends a byte.
/// </remarks>
public sealed class ProxyProtocolOptions
{
    /// <summary>
    /// The networks proxies connect from, such as <c>10.0.0.0/8</c>. Connections from anywhere else are refused before a
    /// byte is read (<see cref="ConnectionEndReason.UntrustedProxy"/>). An IPv4 network also matches the same addresses
    /// seen as IPv4-mapped IPv6 addresses on a dual-mode listener. Must not be empty.
    /// </summary>
    public IList<IPNetwork> TrustedProxies { get; } = new List<IPNetwork>();

    /// <summary>
    /// How long a proxy has to send the whole header after connecting; then the connection ends with
    /// <see cref="ConnectionEndReason.ProxyHeaderTimeout"/>. 5 seconds by default (the spec asks for at least 3, to cover a
    /// TCP retransmission).
    /// </summary>
    public TimeSpan HeaderTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Whether a connection from <paramref name="peer"/> may send a PROXY header.</summary>
    internal bool IsTrusted(EndPoint? peer)
    {
        if (peer is UnixDomainSocketEndPoint)
        {
            return true;
        }

        if (peer is not IPEndPoint { Address: var address })
        {
            return false;
        }

        // On a dual-mode socket an IPv4 peer shows up as ::ffff:a.b.c.d; match it against IPv4 networks too.
        var mapped = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : null;
        foreach (var network in TrustedProxies)
        {
            if (network.Contains(address) || (mapped is not null && network.Contains(mapped)))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Checks the options as <see cref="SocketServer.StartAsync"/> does, so a host can refuse bad configuration before
    /// anything starts and name the setting.
    /// </summary>
    /// <exception cref="InvalidOperationException">There is no trusted proxy.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range; its name is the exception's <c>ParamName</c>.</exception>
    public void Validate()
    {
        if (TrustedProxies.Count == 0)
        {
            throw new InvalidOperationException(
                "The PROXY protocol needs at least one trusted proxy network; to trust every peer, add 0.0.0.0/0 and ::/0 explicitly.");
        }

        if (HeaderTimeout <= TimeSpan.Zero && HeaderTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(HeaderTimeout), HeaderTimeout, "HeaderTimeout must be greater than zero.");
        }

        TimerLimit.Require(HeaderTimeout, nameof(HeaderTimeout), "turns it off");
    }
}
