using System.Net;
using System.Net.Sockets;

namespace Sockeye.Transport;

/// <summary>One bound, listening socket and its accept operation.</summary>
internal sealed class SocketListener : IDisposable
{
    // SOL_SOCKET and SO_REUSEPORT: Linux, then macOS and the BSDs.
    private const int SolSocketLinux = 1;
    private const int SoReusePortLinux = 15;
    private const int SolSocketBsd = 0xffff;
    private const int SoReusePortBsd = 0x200;

    private readonly Socket _socket;
    private int _disposed;

    private SocketListener(ListenerOptions options, Socket socket)
    {
        Options = options;
        _socket = socket;

        // Read the endpoint back from the socket: with port 0, only the kernel knows the real port.
        EndPoint = socket.LocalEndPoint ?? options.EndPoint;
    }

    public ListenerOptions Options { get; }

    /// <summary>The listening socket, for a transport that accepts with its own system calls.</summary>
    public Socket Socket => _socket;

    public EndPoint EndPoint { get; }

    /// <summary>
    /// Binds the listener's endpoints: one, or for localhost the IPv4 loopback and, where the machine has it, the
    /// IPv6 loopback on the same port.
    /// </summary>
    public static IEnumerable<SocketListener> BindAll(ListenerOptions options, int backlog)
    {
        var first = Bind(options, options.EndPoint, backlog);
        yield return first;
        if (options.IsLocalhost && Socket.OSSupportsIPv6)
        {
            var port = ((IPEndPoint)first.EndPoint).Port;
            SocketListener? second = null;
            try
            {
                second = Bind(options, new IPEndPoint(IPAddress.IPv6Loopback, port), backlog);
            }
            catch (IOException ex) when (ex.InnerException is SocketException
            {
                SocketErrorCode: SocketError.AddressNotAvailable or SocketError.AddressFamilyNotSupported,
            })
            {
                // IPv6 is switched off on this machine: IPv4 loopback alone is still localhost.
            }

            if (second is not null)
            {
                yield return second;
            }
        }
    }

    /// <summary>Binds and listens, turning the common failures into exceptions with a clear message.</summary>
    private static SocketListener Bind(ListenerOptions options, EndPoint endPoint, int backlog)
    {
        var socket = endPoint is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endPoint is IPEndPoint { Address: var address } && address.Equals(IPAddress.IPv6Any))
            {
                // "::" means every address, IPv4 included, as it does for Kestrel, unless the listener says otherwise.
                socket.DualMode = options.DualMode;
            }

            if (options.ReusePort)
            {
                EnableReusePort(socket);
            }

            if (socket.ProtocolType == ProtocolType.Tcp)
            {
                // A client's urgent byte (TCP's out-of-band data, send with MSG_OOB) stays in the stream where it was
                // sent. Otherwise the kernel takes it out of the stream, to be read only by a recv with MSG_OOB, which no
                // handler makes: it would be lost without a trace. Accepted connections inherit the option.
                socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.OutOfBandInline, true);
            }

            socket.Bind(endPoint);
            socket.Listen(backlog);
            return new SocketListener(options, socket);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw BindError(endPoint, ex);
        }
    }

    /// <summary>Accepts the next client, or returns <see langword="null"/> once the listener is unbound.</summary>
    /// <exception cref="SocketException">Accepting failed for a reason worth logging, such as too many open files.</exception>
    public async ValueTask<Socket?> AcceptAsync()
    {
        while (true)
        {
            try
            {
                return await _socket.AcceptAsync().ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                return null;
            }
            catch (SocketException ex) when (SocketErrors.IsAbortedByUs(ex.SocketErrorCode))
            {
                return null;
            }
            catch (SocketException ex) when (SocketErrors.IsConnectionReset(ex.SocketErrorCode))
            {
                // The client gave up while it waited in the backlog; nothing to serve.
            }
        }
    }

    /// <summary>Stops listening: new connections are refused from now on. A Unix domain socket's file is removed.</summary>
    public void Dispose()
    {
        _socket.Dispose();

        // An abstract socket ('\0' or '@' first) has no file.
        if (EndPoint is UnixDomainSocketEndPoint && EndPoint.ToString() is { Length: > 0 } path && path[0] is not ('\0' or '@')
            && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            try
            {
                File.Delete(path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
            {
                // Someone else moved or protected it; the next bind reports the problem if it is still there.
            }
        }
    }

    /// <summary>SO_REUSEPORT has no <see cref="SocketOptionName"/>, and its number differs between Linux and the BSDs.</summary>
    private static void EnableReusePort(Socket socket)
    {
        var (level, name) = OperatingSystem.IsLinux() ? (SolSocketLinux, SoReusePortLinux) : (SolSocketBsd, SoReusePortBsd);
        socket.SetRawSocketOption(level, name, BitConverter.GetBytes(1));
    }

    private static IOException BindError(EndPoint endPoint, SocketException ex) => ex.SocketErrorCode switch
    {
        SocketError.AddressAlreadyInUse when endPoint is UnixDomainSocketEndPoint => UnixSocketInUse(endPoint, ex),
        SocketError.AddressAlreadyInUse => new AddressInUseException($"Address {endPoint} is already in use.", ex),
        SocketError.AddressNotAvailable when MissingDirectory(endPoint) is { } directory =>
            new IOException($"Unix socket path {endPoint}: the directory {directory} does not exist.", ex),
        SocketError.AddressNotAvailable => new IOException($"Address {endPoint} is not available on this machine.", ex),
        SocketError.AccessDenied => new IOException($"Permission denied binding {endPoint}.", ex),
        _ => new IOException($"Could not listen on {endPoint}: {ex.Message}", ex),
    };

    /// <summary>
    /// The path exists. If a server answers on it, it is in use; otherwise it is most likely left over from a server that
    /// did not stop cleanly, but it may be anything, so it is not removed here.
    /// </summary>
    private static AddressInUseException UnixSocketInUse(EndPoint endPoint, SocketException ex)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(endPoint);
            return new AddressInUseException($"Unix socket {endPoint} is in use by another server.", ex);
        }
        catch (SocketException)
        {
            return IsNotSocket(endPoint.ToString()!)
                ? new AddressInUseException($"Unix socket path {endPoint} already exists and is not a socket; it is left as it is: choose another path, or remove it.", ex)
                : new AddressInUseException($"Unix socket path {endPoint} already exists and no server answers on it; remove it if nothing uses it.", ex);
        }
    }

    /// <summary>The directory of a Unix socket's path, if it does not exist: binding there fails as an address not available.</summary>
    private static string? MissingDirectory(EndPoint endPoint) =>
        endPoint is UnixDomainSocketEndPoint && endPoint.ToString() is { Length: > 0 } path && path[0] is not ('\0' or '@')
            && Path.GetDirectoryName(Path.GetFullPath(path)) is { Length: > 0 } directory && !Directory.Exists(directory)
            ? directory
            : null;

    /// <summary>
    /// Whether the file at <paramref name="path"/> is known not to be a socket (a regular file, a directory): on Linux,
    /// where statx says; elsewhere it is not known, and the path is reported as a possibly stale socket.
    /// </summary>
    private static unsafe bool IsNotSocket(string path)
    {
        const int AtFdCwd = -100, StatxType = 0x1, StatxModeOffset = 28, TypeMask = 0xF000, Socket = 0xC000;
        if (!Linux.LinuxNative.IsSupported)
        {
            return false;
        }

        var buffer = stackalloc byte[256];
        return Linux.LinuxNative.statx(AtFdCwd, path, 0, StatxType, buffer) == 0 && (*(ushort*)(buffer + StatxModeOffset) & TypeMask) != Socket;
    }
}
