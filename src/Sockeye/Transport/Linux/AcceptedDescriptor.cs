using System.Net;

namespace Sockeye.Transport.Linux;

/// <summary>A client the Linux transport has accepted: its descriptor, non-blocking already, and its address.</summary>
internal readonly struct AcceptedDescriptor(int fd, PeerAddress peer, LinuxTransport transport) : IAcceptedSocket
{
    public EndPoint? ReadRemoteEndPoint() => peer.HasValue ? peer.ToEndPoint() : SocketAddresses.Read(fd, peer.Family, peer: true);

    public unsafe void Reset()
    {
        var linger = new LinuxNative.Linger { OnOff = 1, Seconds = 0 };
        LinuxNative.setsockopt(fd, LinuxNative.SolSocket, LinuxNative.SoLinger, &linger, sizeof(LinuxNative.Linger));
        LinuxNative.close(fd);
    }

    public TransportConnection CreateConnection(long id, ConnectionDispatcher dispatcher) =>
        new LinuxConnection(id, fd, peer, transport.NextLoop(), transport.Pipes, dispatcher.Pipeline, dispatcher.Context);

    public bool Start(TransportConnection connection)
    {
        var linux = (LinuxConnection)connection;
        try
        {
            linux.Register();
        }
        catch (IOException)
        {
            // epoll could not take it (out of memory): refuse this client, keep serving the rest.
            LinuxNative.close(fd);
            return false;
        }

        linux.Start();
        return true;
    }
}
