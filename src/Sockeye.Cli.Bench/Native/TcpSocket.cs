using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Sockeye.Transport.Linux;

namespace Sockeye.Cli.Bench.Native;

/// <summary>
/// Non-blocking TCP client sockets as bare file descriptors. Results follow one convention: a count or 0 on
/// success, a negative errno on failure.
/// </summary>
internal static unsafe class TcpSocket
{
    /// <summary>Creates a non-blocking socket with Nagle off (each message leaves at once, as the servers' replies do).</summary>
    public static int Open(AddressFamily family)
    {
        var fd = LinuxNative.socket(family == AddressFamily.InterNetworkV6 ? LinuxNative.AfInet6 : LinuxNative.AfInet, LinuxNative.SockStream | LinuxNative.SockNonBlock | LinuxNative.SockCloexec, 0);
        if (fd < 0)
        {
            return -Marshal.GetLastPInvokeError();
        }

        var one = 1;
        LinuxNative.setsockopt(fd, LinuxNative.IpProtoTcp, LinuxNative.TcpNoDelay, &one, sizeof(int));
        return fd;
    }

    /// <summary>Asks for a receive buffer of <paramref name="bytes"/> (the kernel doubles it for its bookkeeping); before connecting, so the window fits it.</summary>
    public static void SetReceiveBuffer(int fd, int bytes) =>
        LinuxNative.setsockopt(fd, LinuxNative.SolSocket, LinuxNative.SoRcvBuf, &bytes, sizeof(int));

    /// <summary>
    /// Announces a maximum segment size of <paramref name="bytes"/> in the SYN (before connecting), so the server sends
    /// this connection segments of at most that size and sizes its send buffer for them, as for a client on a real network.
    /// </summary>
    public static void SetMaxSegment(int fd, int bytes) =>
        LinuxNative.setsockopt(fd, LinuxNative.IpProtoTcp, LinuxNative.TcpMaxSeg, &bytes, sizeof(int));

    /// <summary>
    /// Connects from <paramref name="source"/> (its port left to connect): the kernel then picks the port for the whole
    /// four-tuple, so each source address has a port range of its own.
    /// </summary>
    public static int BindSource(int fd, NativeEndPoint source)
    {
        var one = 1;
        LinuxNative.setsockopt(fd, LinuxNative.IpProtoIp, LinuxNative.IpBindAddressNoPort, &one, sizeof(int));
        fixed (byte* address = source.Address)
        {
            return LinuxNative.bind(fd, address, source.Address.Length) == 0 ? 0 : -Marshal.GetLastPInvokeError();
        }
    }

    /// <summary>Starts connecting: 0 when connected at once, -EINPROGRESS while under way, another -errno on failure.</summary>
    public static int Connect(int fd, NativeEndPoint endPoint)
    {
        fixed (byte* address = endPoint.Address)
        {
            return LinuxNative.connect(fd, address, endPoint.Address.Length) == 0 ? 0 : -Marshal.GetLastPInvokeError();
        }
    }

    /// <summary>The outcome of a connect that was under way: 0 or an errno.</summary>
    public static int PendingError(int fd)
    {
        int error = 0, length = sizeof(int);
        return LinuxNative.getsockopt(fd, LinuxNative.SolSocket, LinuxNative.SoError, &error, &length) == 0 ? error : Marshal.GetLastPInvokeError();
    }

    public static nint Send(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* buffer = data)
        {
            var sent = LinuxNative.send(fd, buffer, (nuint)data.Length, LinuxNative.MsgNoSignal);
            return sent >= 0 ? sent : -Marshal.GetLastPInvokeError();
        }
    }

    public static nint Receive(int fd, Span<byte> buffer)
    {
        fixed (byte* destination = buffer)
        {
            var received = LinuxNative.recv(fd, destination, (nuint)buffer.Length, 0);
            return received >= 0 ? received : -Marshal.GetLastPInvokeError();
        }
    }

    public static int ShutdownSend(int fd) => LinuxNative.shutdown(fd, LinuxNative.ShutWrite) == 0 ? 0 : -Marshal.GetLastPInvokeError();

    public static void Close(int fd) => LinuxNative.close(fd);
}

/// <summary>An endpoint as the kernel's <c>sockaddr_in</c> or <c>sockaddr_in6</c>, built once and reused for every connect.</summary>
internal sealed class NativeEndPoint
{
    public NativeEndPoint(IPEndPoint endPoint)
    {
        EndPoint = endPoint;
        var ipv6 = endPoint.AddressFamily == AddressFamily.InterNetworkV6;
        Address = new byte[ipv6 ? 28 : 16];
        // sa_family is in host byte order, the port in network byte order.
        MemoryMarshal.Write(Address, (ushort)(ipv6 ? LinuxNative.AfInet6 : LinuxNative.AfInet));
        BinaryPrimitives.WriteUInt16BigEndian(Address.AsSpan(2), (ushort)endPoint.Port);
        if (ipv6)
        {
            endPoint.Address.TryWriteBytes(Address.AsSpan(8, 16), out _);
            MemoryMarshal.Write(Address.AsSpan(24), (uint)endPoint.Address.ScopeId);
        }
        else
        {
            endPoint.Address.TryWriteBytes(Address.AsSpan(4, 4), out _);
        }
    }

    public IPEndPoint EndPoint { get; }

    public AddressFamily Family => EndPoint.AddressFamily;

    public byte[] Address { get; }
}
