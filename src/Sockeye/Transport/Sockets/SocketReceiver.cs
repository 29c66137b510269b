using System.Net.Sockets;

namespace Sockeye.Transport.Sockets;

/// <summary>Receives from one socket; a connection owns one for its whole life.</summary>
internal sealed class SocketReceiver : SocketAwaitableEventArgs
{
    /// <summary>
    /// Completes when data is available, without taking a buffer: an idle connection holds no receive memory.
    /// </summary>
    public ValueTask<SocketOperationResult> WaitForDataAsync(Socket socket) => ReceiveAsync(socket, Memory<byte>.Empty);

    public ValueTask<SocketOperationResult> ReceiveAsync(Socket socket, Memory<byte> buffer)
    {
        Prepare();
        SetBuffer(buffer);
        return Await(socket.ReceiveAsync(this));
    }
}
