using System.Net;
using System.Net.Sockets;

namespace Sockeye.Client;

/// <summary>Opens a connected socket to an endpoint, trying each address a host name resolves to in turn.</summary>
internal static class SocketConnector
{
    /// <exception cref="SocketException">The name did not resolve, or no address accepted the connection (the last error).</exception>
    public static async Task<Socket> ConnectAsync(EndPoint endPoint, CancellationToken cancellationToken)
    {
        if (endPoint is not DnsEndPoint named)
        {
            return await ConnectOneAsync(endPoint, cancellationToken).ConfigureAwait(false);
        }

        var addresses = IPAddress.TryParse(named.Host.AsSpan().Trim("[]"), out var literal)
            ? [literal]
            : await Dns.GetHostAddressesAsync(named.Host, named.AddressFamily, cancellationToken).ConfigureAwait(false);
        return await ConnectAnyAsync(addresses, named.Port, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Connects to the first of <paramref name="addresses"/> that accepts, in order.</summary>
    /// <exception cref="SocketException">None did; the error is the last address's.</exception>
    internal static async Task<Socket> ConnectAnyAsync(IReadOnlyList<IPAddress> addresses, int port, CancellationToken cancellationToken)
    {
        if (addresses.Count == 0)
        {
            throw new SocketException((int)SocketError.HostNotFound);
        }

        // As browsers and curl do: "localhost" may be ::1 or 127.0.0.1, and the server may listen on only one.
        SocketException? lastError = null;
        foreach (var address in addresses)
        {
            try
            {
                return await ConnectOneAsync(new IPEndPoint(address, port), cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException error)
            {
                lastError = error;
            }
        }

        throw lastError!;
    }

    private static async Task<Socket> ConnectOneAsync(EndPoint endPoint, CancellationToken cancellationToken)
    {
        var socket = endPoint is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
