using System.Buffers;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Sockeye.Transport.Sockets;

/// <summary>
/// Sends to a socket. Senders are pooled per server and rented only while a connection has data to send,
/// so an idle connection holds none.
/// </summary>
internal sealed class SocketSender : SocketAwaitableEventArgs
{
    private List<ArraySegment<byte>>? _segments;

    public ValueTask<SocketOperationResult> SendAsync(Socket socket, in ReadOnlySequence<byte> buffers)
    {
        Prepare();
        if (buffers.IsSingleSegment)
        {
            UseBuffer(buffers.First);
        }
        else
        {
            // One gather send for the whole sequence: small writes queued together leave in one syscall.
            UseBufferList(buffers);
        }

        return Await(socket.SendAsync(this));
    }

    /// <summary>Drops references to the sent memory before the sender goes back to the pool.</summary>
    public void Reset()
    {
        if (BufferList is not null)
        {
            BufferList = null;
            _segments?.Clear();
        }
        else
        {
            SetBuffer(null, 0, 0);
        }
    }

    private void UseBuffer(ReadOnlyMemory<byte> memory)
    {
        if (BufferList is not null)
        {
            BufferList = null;
            _segments?.Clear();
        }

        SetBuffer(MemoryMarshal.AsMemory(memory));
    }

    private void UseBufferList(in ReadOnlySequence<byte> buffers)
    {
        if (Buffer is not null || MemoryBuffer.Length > 0)
        {
            SetBuffer(null, 0, 0);
        }

        _segments ??= new List<ArraySegment<byte>>();
        _segments.Clear();
        foreach (var memory in buffers)
        {
            if (!MemoryMarshal.TryGetArray(memory, out var segment))
            {
                throw new InvalidOperationException("The send buffer is not backed by an array.");
            }

            _segments.Add(segment);
        }

        BufferList = _segments;
    }
}
