using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Sockeye.Transport.Linux;

/// <summary>
/// Receiving, on the loop's thread only: what the socket holds is read into a connection's input, one system call per
/// read, until the socket is empty, the input is full, or the client's FIN or an error ends it. Static, so a connection
/// pays nothing for it; the connection guards the descriptor and decides what the end of receiving means.
/// </summary>
internal static class LinuxReceiver
{
    // The input's last block, then the loop's blocks.
    private const int MaxIoVectors = ReceiveBlocks.Count + 1;

    /// <param name="connection">Counts what is read, for the timeouts and the metrics.</param>
    /// <param name="fd">The connection's socket.</param>
    /// <param name="input">The input to fill; null once nobody reads it, to read what arrives and drop it.</param>
    /// <param name="blocks">The loop's receive blocks.</param>
    /// <param name="untilEmpty">
    /// Read until the socket reports it has nothing more, rather than stopping at a short read: needed when no
    /// later edge will come (the client's FIN or an error already arrived, or reading resumes after a pause).
    /// </param>
    /// <param name="error">What the socket reported, when the outcome is <see cref="ReceiveOutcome.Failed"/>.</param>
    public static ReceiveOutcome Receive(TransportConnection connection, int fd, ConnectionInput? input, ReceiveBlocks blocks, bool untilEmpty, out SocketError error)
    {
        error = SocketError.Success;
        while (true)
        {
            // One read of up to 64 KiB: first into what is left of the input's last block, then into the loop's blocks,
            // which the input then takes as they are. Nothing is copied, and a read costs one system call either way.
            var limit = ReceiveBlocks.Capacity;
            var tail = input is null ? Memory<byte>.Empty : input.BeginReceive(out limit);
            var received = Read(fd, tail.Span, blocks, limit, out var asked);
            if (received > 0)
            {
                connection.AddBytesReceived(received);
                var keepReceiving = true;
                if (input is not null)
                {
                    keepReceiving = Deliver(input, tail.Length, blocks, (int)received);
                    connection.ReceivedBytesVisible();
                }

                // Fewer bytes than asked for means the socket is empty now, and an edge-triggered loop reports
                // the next arrival; a full read means there may be more.
                if (!keepReceiving || (received < asked && !untilEmpty))
                {
                    return ReceiveOutcome.Continue;
                }

                continue;
            }

            input?.Abandon();
            if (received == 0)
            {
                return ReceiveOutcome.ClientEnded;
            }

            var errno = LinuxNative.LastError;
            if (errno == LinuxNative.Eintr)
            {
                continue;
            }

            if (errno == LinuxNative.Eagain)
            {
                return ReceiveOutcome.Continue;
            }

            error = LinuxNative.ToSocketError(errno);
            return ReceiveOutcome.Failed;
        }
    }

    /// <summary>Whether bytes the connection has not read wait in the socket; false when none do or the socket fails.</summary>
    public static unsafe bool HasBytesWaiting(int fd)
    {
        byte peek;
        return LinuxNative.recv(fd, &peek, 1, LinuxNative.MsgPeek | LinuxNative.MsgDontWait) > 0;
    }

    /// <summary>
    /// One read of up to <paramref name="limit"/> bytes: into <paramref name="tail"/> first, then, with no room there,
    /// into the small block, then into the whole ones. Every block is on the pinned object heap.
    /// </summary>
    private static unsafe nint Read(int fd, Span<byte> tail, ReceiveBlocks blocks, int limit, out int asked)
    {
        var vectors = stackalloc LinuxNative.IoVector[MaxIoVectors];
        var count = 0;
        asked = 0;
        if (!tail.IsEmpty)
        {
            Add(vectors, ref count, ref asked, tail, limit);
        }

        for (var index = tail.IsEmpty ? 0 : 1; asked < limit && index < ReceiveBlocks.Count; index++)
        {
            Add(vectors, ref count, ref asked, blocks.Block(index).Array, limit);
        }

        return LinuxNative.readv(fd, vectors, count);

        static void Add(LinuxNative.IoVector* vectors, ref int count, ref int asked, Span<byte> memory, int limit)
        {
            var length = Math.Min(memory.Length, limit - asked);
            vectors[count].Base = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(memory));
            vectors[count].Length = (nuint)length;
            count++;
            asked += length;
        }
    }

    /// <summary>Hands what a read brought to the input: the bytes in its own last block, and the loop's blocks that filled.</summary>
    private static bool Deliver(ConnectionInput input, int tailRoom, ReceiveBlocks blocks, int received)
    {
        var tailBytes = Math.Min(tailRoom, received);
        var rest = received - tailBytes;
        var firstIndex = tailRoom > 0 ? 1 : 0;
        BufferSegment? first = null;
        BufferSegment? last = null;
        var index = firstIndex;
        for (var left = rest; left > 0; index++)
        {
            var block = blocks.Block(index);
            block.Reset(0);
            block.End = Math.Min(left, block.Array.Length);
            left -= block.End;
            if (last is null)
            {
                first = block;
            }
            else
            {
                last.SetNext(block);
            }

            last = block;
        }

        if (first is not null)
        {
            blocks.HandedOn(firstIndex, index - firstIndex);
        }

        return input.EndReceive(tailBytes, first, last, rest);
    }
}
