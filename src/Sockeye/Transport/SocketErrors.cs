using System.Net.Sockets;

namespace Sockeye.Transport;

/// <summary>Sorts socket errors into the three kinds the transport treats differently.</summary>
internal static class SocketErrors
{
    /// <summary>The peer or the network ended the connection: expected on the internet, logged quietly.</summary>
    public static bool IsConnectionReset(SocketError error) => error is
        SocketError.ConnectionReset or
        SocketError.ConnectionAborted or
        SocketError.Shutdown or
        SocketError.NetworkReset or
        SocketError.NetworkDown or
        SocketError.HostUnreachable or
        SocketError.TimedOut;

    /// <summary>We closed the socket ourselves while an operation was pending.</summary>
    public static bool IsAbortedByUs(SocketError error) => error is
        SocketError.OperationAborted or
        SocketError.Interrupted or
        SocketError.InvalidArgument or
        SocketError.NotSocket;
}
