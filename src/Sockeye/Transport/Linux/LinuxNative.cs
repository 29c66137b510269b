using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Sockeye.Transport.Linux;

/// <summary>
/// The few Linux system calls the epoll transport makes, declared for source-generated marshalling (no
/// reflection, so Native AOT and trimming keep working). Every call reports errno through the last P/Invoke error.
/// </summary>
/// <remarks>
/// The one copy of these bindings: the load generator (src/Sockeye.Cli.Bench) compiles this file too, and adds the
/// client's calls (socket, connect, bind, rlimit) in a part of its own. Linux x86-64 and arm64 values only.
/// </remarks>
internal static unsafe partial class LinuxNative
{
    private const string Libc = "libc";

    public const int EpollCloexec = 0x80000;
    public const int EpollCtlAdd = 1;
    public const int EpollCtlDel = 2;

    public const uint EpollIn = 0x001;
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

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int epoll_ctl(int epfd, int op, int fd, byte* ev);

    [MethodImpl(MethodImplOptions.NoInlining)]
    [LibraryImport(Libc, SetLastError = true)]
    public static partial int epoll_wait(int epfd, byte* events, int maxevents, int timeout);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int eventfd(uint initval, int flags);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial nint read(int fd, byte* buffer, nuint count);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial nint write(int fd, byte* buffer, nuint count);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int accept4(int fd, byte* address, int* addressLength, int flags);

    [MethodImpl(MethodImplOptions.NoInlining)]
    [LibraryImport(Libc, SetLastError = true)]
    public static partial nint recv(int fd, byte* buffer, nuint length, int flags);

    [MethodImpl(MethodImplOptions.NoInlining)]
    [LibraryImport(Libc, SetLastError = true)]
    public static partial nint send(int fd, byte* buffer, nuint length, int flags);

    [MethodImpl(MethodImplOptions.NoInlining)]
    [LibraryImport(Libc, SetLastError = true)]
    public static partial nint sendmsg(int fd, MessageHeader* message, int flags);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int shutdown(int fd, int how);

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
