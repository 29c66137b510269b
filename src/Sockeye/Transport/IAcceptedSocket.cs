using System.Net;

namespace Sockeye.Transport;

/// <summary>
/// A client a transport has just accepted, handed to <see cref="ConnectionDispatcher.Dispatch"/>: a struct per
/// transport, so the dispatcher's one copy of admission costs no allocation and no interface call.
/// </summary>
internal interface IAcceptedSocket
{
    /// <summary>The client's address, read only to log a refusal.</summary>
    EndPoint? ReadRemoteEndPoint();

    /// <summary>Closes the socket with a reset: a refused client has nothing to wait for, and both ends are freed at once.</summary>
    void Reset();

    /// <summary>The connection for this socket, not started yet; <see langword="null"/> when the client is already gone (the socket is closed then).</summary>
    TransportConnection? CreateConnection(long id, ConnectionDispatcher dispatcher);

    /// <summary>Starts the connection; <see langword="false"/> when the transport could not take it (the socket is closed then).</summary>
    bool Start(TransportConnection connection);
}
