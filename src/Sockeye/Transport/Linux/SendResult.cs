using System.Net.Sockets;

namespace Sockeye.Transport.Linux;

/// <summary>The outcome of one non-blocking send.</summary>
internal readonly record struct SendResult(int Bytes, bool WouldBlock, SocketError Error)
{
    public static SendResult Blocked => new(0, true, SocketError.Success);
}
