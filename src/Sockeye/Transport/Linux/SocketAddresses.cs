using System.Net;
using System.Net.Sockets;

namespace Sockeye.Transport.Linux;

/// <summary>Reads a socket's own or peer address with getsockname/getpeername into .NET's endpoint types.</summary>
internal static unsafe class SocketAddresses
{
    private static readonly IPEndPoint s_ipv4 = new(IPAddress.Any, 0);
    private static readonly IPEndPoint s_ipv6 = new(IPAddress.IPv6Any, 0);

    public static EndPoint? Read(int fd, AddressFamily family, bool peer)
    {
        // SocketAddress holds the native sockaddr layout, so the kernel can fill it in place.
        var address = new SocketAddress(family, SocketAddress.GetMaximumAddressSize(family));
        var length = address.Buffer.Length;
        int result;
        fixed (byte* buffer = address.Buffer.Span)
        {
            result = peer ? LinuxNative.getpeername(fd, buffer, &length) : LinuxNative.getsockname(fd, buffer, &length);
        }

        if (result != 0)
        {
            return null;
        }

        address.Size = length;
        try
        {
            return address.Family switch
            {
                AddressFamily.InterNetwork => s_ipv4.Create(address),
                AddressFamily.InterNetworkV6 => s_ipv6.Create(address),
                AddressFamily.Unix => new UnixDomainSocketEndPoint("/").Create(address),
                _ => null,
            };
        }
        catch (ArgumentException)
        {
            // An unnamed Unix socket peer, say: there is no address to show.
            return null;
        }
    }
}
