using System.Runtime.InteropServices;

// The server's bindings (src/Sockeye/Transport/Linux/LinuxNative.cs, linked into this project) are in this namespace;
// this part adds what only a client needs.
namespace Sockeye.Transport.Linux;

/// <summary>
/// The system calls the load generator makes besides the server's: creating, binding and connecting client sockets,
/// and the open-file limit.
/// </summary>
/// <remarks>
/// The generator shares a 2-core machine with the server it measures, so it must cost far less per message than
/// the server. .NET's socket engine adds a dispatch and a speculative receive to every operation; a single
/// edge-triggered epoll loop needs one send and one receive per message and no thread hops. Linux values only:
/// the bench command refuses to run elsewhere.
/// </remarks>
internal static unsafe partial class LinuxNative
{
    public const int AfInet = 2;
    public const int AfInet6 = 10;
    public const int SockStream = 1;
    public const int SoError = 4;
    public const int SoRcvBuf = 8;
    public const int IpProtoIp = 0;
    public const int TcpMaxSeg = 2;
    public const int IpBindAddressNoPort = 24;

    public const int RLimitNoFile = 7;

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int connect(int fd, byte* address, int length);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int bind(int fd, byte* address, int length);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int getrlimit(int resource, ulong* limits);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int setrlimit(int resource, ulong* limits);

    /// <summary>The system's text for an errno, such as "Connection refused".</summary>
    public static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(errno);
}
