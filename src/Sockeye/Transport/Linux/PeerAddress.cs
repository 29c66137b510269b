using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Sockeye.Transport.Linux;

/// <summary>
/// An accepted socket's family and, for TCP, the client's address as <c>accept4</c> reported it: 20 bytes, made an
/// <see cref="IPEndPoint"/> only when asked for. Taken at the accept, when the kernel hands it over for free: read later
/// with <c>getpeername</c>, it would be gone for a client that reset first (the clients an operator most wants to name),
/// and cost a system call.
/// </summary>
internal struct PeerAddress
{
    /// <summary>Room for the largest address kept here, <c>sockaddr_in6</c>.</summary>
    public const int BufferSize = 28;

    private const ushort AfInet = 2;
    private const ushort AfInet6 = 10;

    // Bytes, not longs: aligned to 2, the struct packs beside the connection's other small fields.
    private AddressBytes _address;
    private ushort _port;
    private byte _version;
    private byte _family;

    /// <summary>The socket's address family (the listener's).</summary>
    public readonly AddressFamily Family => (AddressFamily)_family;

    /// <summary>Whether an address was taken; a Unix socket's peer, for one, is left to <c>getpeername</c>.</summary>
    public readonly bool HasValue => _version != 0;

    /// <summary>A socket of <paramref name="family"/> whose peer is not kept here: a Unix socket's, say.</summary>
    public static PeerAddress None(AddressFamily family) => new() { _family = checked((byte)family) };

    /// <summary>
    /// A socket of <paramref name="family"/> and the address in <paramref name="sockaddr"/> (the first
    /// <paramref name="length"/> bytes), kept if it is IPv4 or IPv6.
    /// </summary>
    public static PeerAddress From(AddressFamily family, ReadOnlySpan<byte> sockaddr, int length)
    {
        var peer = None(family);
        if (length < 16 || length > sockaddr.Length)
        {
            return peer;
        }

        // The family is in the machine's order; the port and the address are in the network's, kept as they are.
        var kernelFamily = MemoryMarshal.Read<ushort>(sockaddr);
        if (kernelFamily == AfInet)
        {
            sockaddr.Slice(4, 4).CopyTo(peer._address);
            peer._version = 4;
        }
        else if (kernelFamily == AfInet6 && length >= BufferSize)
        {
            // A scoped (link-local) address is left to getpeername: its scope would cost every connection 4 bytes more.
            if (MemoryMarshal.Read<uint>(sockaddr[24..]) != 0)
            {
                return peer;
            }

            sockaddr.Slice(8, 16).CopyTo(peer._address);
            peer._version = 6;
        }
        else
        {
            return peer;
        }

        peer._port = BinaryPrimitives.ReadUInt16BigEndian(sockaddr[2..]);
        return peer;
    }

    /// <summary>The address as an endpoint, or null when none was taken.</summary>
    public readonly IPEndPoint? ToEndPoint() => _version switch
    {
        4 => new IPEndPoint(new IPAddress(((ReadOnlySpan<byte>)_address)[..4]), _port),
        6 => new IPEndPoint(new IPAddress((ReadOnlySpan<byte>)_address), _port),
        _ => null,
    };

    /// <summary>Whether <paramref name="family"/>'s addresses are kept here.</summary>
    public static bool Keeps(AddressFamily family) => family is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6;

    [InlineArray(16)]
    private struct AddressBytes
    {
        private byte _first;
    }
}
