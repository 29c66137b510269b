using System.Net;
using System.Net.Sockets;

namespace Sockeye.Transport.Linux;

/// <summary>A client the Linux transport has accepted: its descriptor, non-blocking already.</summary>
internal readonly struct AcceptedDescriptor(int fd, AddressFamily family, LinuxTransport transport) : IAcceptedSocket
{
    public EndPoint? ReadRemoteEndPoint() => SocketAddresses.Read(fd, family, peer: true);

    public unsafe void Reset()
    {
        var linger = new LinuxNative.Linger { OnOff = 1, Seconds = 0 };
        LinuxNative.setsockopt(fd, LinuxNative.SolSocket, LinuxNative.SoLinger, &linger, sizeof(LinuxNative.Linger));
        LinuxNative.close(fd);
    }

    public TransportConnection CreateConnection(long id, ConnectionDispatcher dispatcher) =>
        new LinuxConnection(id, fd, family, transport.NextLoop(), transport.Pipes, dispatcher.Pipeline, dispatcher.Context);

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
