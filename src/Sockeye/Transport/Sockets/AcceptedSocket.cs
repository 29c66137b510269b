using System.Net;
using System.Net.Sockets;

namespace Sockeye.Transport.Sockets;

/// <summary>A client the portable transport has accepted.</summary>
internal readonly struct AcceptedSocket(Socket socket, SocketSenderPool senders) : IAcceptedSocket
{
    public EndPoint? ReadRemoteEndPoint() => socket.RemoteEndPoint;

    public void Reset()
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (SocketException)
        {
            // Already reset by the client.
        }

        socket.Dispose();
    }

    public TransportConnection? CreateConnection(long id, ConnectionDispatcher dispatcher)
    {
        try
        {
            if (socket.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
            {
                // Replies are written whole by the handler; waiting to coalesce them only adds latency.
                socket.NoDelay = true;
            }
        }
        catch (SocketException)
        {
            socket.Dispose();
            return null;
        }

        return new SocketConnection(id, socket, senders, dispatcher.Pipeline, dispatcher.Context);
    }

    public bool Start(TransportConnection connection)
    {
        // The accepting thread never runs handler code: the connection starts on the thread pool.
        ThreadPool.UnsafeQueueUserWorkItem(connection, preferLocal: false);
        return true;
    }
}
