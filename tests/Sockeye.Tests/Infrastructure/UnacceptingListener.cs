using System.Net;
using System.Net.Sockets;

namespace Sockeye.Tests.Infrastructure;

/// <summary>
/// A loopback listener that never accepts, with its queue already full: the kernel drops further connection
/// attempts, so a connect to it hangs until the client gives up. For connect timeouts without a remote host.
/// </summary>
internal sealed class UnacceptingListener : IDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly Socket _queued = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

    private UnacceptingListener()
    {
    }

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndPoint!;

    public static async Task<UnacceptingListener> StartAsync(int port = 0)
    {
        var full = new UnacceptingListener();
        full._listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
        full._listener.Listen(0);
        await full._queued.ConnectAsync(full.EndPoint, TestContext.Current.CancellationToken);
        return full;
    }

    public void Dispose()
    {
        _queued.Dispose();
        _listener.Dispose();
    }
}
