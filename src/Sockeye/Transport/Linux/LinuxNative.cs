using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Sockeye.Transport.Linux;

/// <summary>
/// The few Linux system calls the epoll transport makes, declared for source-generated marshalling (no
/// reflection, so Native AOT and trimming keep working). Every call reports errno through the last P/Invoke error,
/// except the server's receives and sends (<see cref="Receive"/>, <see cref="ReceiveVectors"/>, <see cref="Send"/>,
/// <see cref="SendMessage"/>), which return it.
/// </summary>
/// <remarks>
/// <para>
/// The one copy of these bindings: the load generator (src/Sockeye.Cli.Bench) compiles this file too, and adds the
/// client's calls (socket, connect, bind, rlimit) in a part of its own. Linux x86-64 and arm64 values only.
/// </para>
/// <para>
/// The calls made from inside a try block (the event loop's dispatch, the descriptor guard's finally) are NoInlining:
/// a P/Invoke inlined into a method with exception handling cannot have its transition inlined too, and goes through
/// a slower IL stub instead.
/// </para>
/// </remarks>
internal static unsafe partial class LinuxNative
{
    private const string Libc = "libc";

    public const int EpollCloexec = 0x80000;
    public const int EpollCtlAdd = 1;
    public const int EpollCtlDel = 2;
    public const int EpollCtlMod = 3;

    public const uint EpollIn = 0x001;
    public const uint EpollPri = 0x002;
    public const uint EpollOut = 0x004;
    public const uint EpollErr = 0x008;
    public const uint EpollHup = 0x010;
    public const uint EpollRdHup = 0x2000;
    public const uint EpollEdgeTriggered = 1u << 31;

    public const int SockNonBlock = 0x800;
    public const int SockCloexec = 0x80000;
    public const int MsgPeek = 0x2;
    public const int MsgDontWait = 0x40;
    public const int MsgNoSignal = 0x4000;
    public const int ShutWrite = 1;

    public const int SolSocket = 1;
    public const int SoLinger = 13;
    public const int IpProtoTcp = 6;
    public const int TcpNoDelay = 1;

    public const int Eintr = 4;
    public const int Ebadf = 9;
    public const int Eagain = 11;
    public const int Enomem = 12;
    public const int Enfile = 23;
    public const int Emfile = 24;
    public const int Epipe = 32;
    public const int Eaddrnotavail = 99;
    public const int Enetunreach = 101;
    public const int Enetreset = 102;
    public const int Econnaborted = 103;
    public const int Econnreset = 104;
    public const int Enobufs = 105;
    public const int Enotconn = 107;
    public const int Etimedout = 110;
    public const int Econnrefused = 111;
    public const int Ehostunreach = 113;
    public const int Einprogress = 115;

    /// <summary>epoll_event is packed on x86-64 (12 bytes) and naturally aligned elsewhere (16 bytes).</summary>
    public static readonly int EpollEventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;

    public static readonly int EpollEventDataOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    /// <summary>The architectures whose epoll_event layout this file knows.</summary>
    public static bool IsSupported =>
        OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64;

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int epoll_create1(int flags);

    [MethodImpl(MethodImplOptions.NoInlining)]
    [LibraryImport(Libc, SetLastError = true)]
    public static partial int epoll_ctl(int epfd, int op, int fd, byte* ev);

    [MethodImpl(MethodImplOptions.NoInlining)]
    [LibraryImport(Libc, SetLastError = true)]
    public static partial int epoll_wait(int epfd, byte* events, int maxevents, int timeout);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int eventfd(uint initval, int flags);

    /// <summary>statx(2): its struct statx is the same on every architecture, unlike stat's. Glibc 2.28 and later.</summary>
    [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial nint read(int fd, byte* buffer, nuint count);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial nint write(int fd, byte* buffer, nuint count);

    [MethodImpl(MethodImplOptions.NoInlining)]
    [LibraryImport(Libc, SetLastError = true)]
    public static partial int accept4(int fd, byte* address, int* addressLength, int flags);

    // The load generator's recv and send; the server's are Receive and Send below.
    [MethodImpl(MethodImplOptions.NoInlining)]
    [LibraryImport(Libc, SetLastError = true)]
    public static partial nint recv(int fd, byte* buffer, nuint length, int flags);

    [MethodImpl(MethodImplOptions.NoInlining)]
    [LibraryImport(Libc, SetLastError = true)]
    public static partial nint send(int fd, byte* buffer, nuint length, int flags);

    // The data path's calls: errno is read only when a call failed, straight after it, instead of being cleared before
    // every call and stored as the last P/Invoke error after it (SetLastError), a cost paid on every receive and send.
    // The runtime keeps errno across the call's return to managed code, which SetLastError's own generated code relies on
    // as well: it reads errno at the same point.

    /// <summary>recv(2): the bytes received, 0 at the peer's end, or -1 with <paramref name="errno"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static nint Receive(int fd, byte* buffer, nuint length, int flags, out int errno)
    {
        var result = RecvCall(fd, buffer, length, flags);
        errno = result < 0 ? Marshal.GetLastSystemError() : 0;
        return result;
    }

    /// <summary>send(2): the bytes sent, or -1 with <paramref name="errno"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static nint Send(int fd, byte* buffer, nuint length, int flags, out int errno)
    {
        var result = SendCall(fd, buffer, length, flags);
        errno = result < 0 ? Marshal.GetLastSystemError() : 0;
        return result;
    }

    /// <summary>sendmsg(2): the bytes sent, or -1 with <paramref name="errno"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static nint SendMessage(int fd, MessageHeader* message, int flags, out int errno)
    {
        var result = SendMessageCall(fd, message, flags);
        errno = result < 0 ? Marshal.GetLastSystemError() : 0;
        return result;
    }

    /// <summary>readv(2): the bytes read into the vectors, in order; 0 at the peer's end, or -1 with <paramref name="errno"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static nint ReceiveVectors(int fd, IoVector* vectors, int count, out int errno)
    {
        var result = ReadvCall(fd, vectors, count);
        errno = result < 0 ? Marshal.GetLastSystemError() : 0;
        return result;
    }

    [LibraryImport(Libc, EntryPoint = "readv")]
    private static partial nint ReadvCall(int fd, IoVector* vectors, int count);

    [LibraryImport(Libc, EntryPoint = "recv")]
    private static partial nint RecvCall(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport(Libc, EntryPoint = "send")]
    private static partial nint SendCall(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport(Libc, EntryPoint = "sendmsg")]
    private static partial nint SendMessageCall(int fd, MessageHeader* message, int flags);

    [MethodImpl(MethodImplOptions.NoInlining)]
    [LibraryImport(Libc, SetLastError = true)]
    public static partial int shutdown(int fd, int how);

    [MethodImpl(MethodImplOptions.NoInlining)]
    [LibraryImport(Libc, SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int setsockopt(int fd, int level, int name, void* value, int length);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int getsockopt(int fd, int level, int name, void* value, int* length);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int getsockname(int fd, byte* address, int* addressLength);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int getpeername(int fd, byte* address, int* addressLength);

    public static int LastError => Marshal.GetLastPInvokeError();

    /// <summary>errno as the SocketError that .NET's own socket code would report.</summary>
    public static SocketError ToSocketError(int errno) => errno switch
    {
        Eagain => SocketError.WouldBlock,
        Eintr => SocketError.Interrupted,
        Ebadf => SocketError.OperationAborted, // closed under us
        Enomem or Enobufs => SocketError.NoBufferSpaceAvailable,
        Enfile or Emfile => SocketError.TooManyOpenSockets,
        Epipe => SocketError.Shutdown,
        Enetunreach => SocketError.NetworkUnreachable,
        Enetreset => SocketError.NetworkReset,
        Econnaborted => SocketError.ConnectionAborted,
        Econnreset => SocketError.ConnectionReset,
        Enotconn => SocketError.NotConnected,
        Etimedout => SocketError.TimedOut,
        Ehostunreach => SocketError.HostUnreachable,
        _ => SocketError.SocketError,
    };

    /// <summary>struct iovec.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct IoVector
    {
        public byte* Base;
        public nuint Length;
    }

    /// <summary>struct msghdr (64-bit Linux).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MessageHeader
    {
        public void* Name;
        public uint NameLength;
        public IoVector* Vectors;
        public nuint VectorCount;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary>struct linger.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Linger
    {
        public int OnOff;
        public int Seconds;
    }
}
