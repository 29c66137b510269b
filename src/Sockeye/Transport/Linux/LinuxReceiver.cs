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
    // A read that brings this much or more makes the next one scatter straight into the input's blocks. A stream's reads
    // then cost no copy; small arrivals (ping-pong, pipelined requests) keep one plain recv into the loop's buffer, which
    // costs the kernel less than a readv over many vectors of which one or two would be used.
    private const int ScatterFrom = 8 * 1024;

    // One scattered read takes at most the room in the last block and this many whole blocks: the loop buffer's 64 KiB.
    private const int ScatterBlocks = 16;

    /// <param name="connection">Counts what is read, for the timeouts and the metrics.</param>
    /// <param name="fd">The connection's socket.</param>
    /// <param name="input">The input to fill; null once nobody reads it, to read what arrives and drop it.</param>
    /// <param name="buffer">The loop's receive buffer.</param>
    /// <param name="untilEmpty">
    /// Read until the socket reports it has nothing more, rather than stopping at a short read: needed when no
    /// later edge will come (the client's FIN or an error already arrived, or reading resumes after a pause).
    /// </param>
    /// <param name="scatter">
    /// Whether the next read goes straight into the input's blocks: the connection's own, set from the size of each read.
    /// </param>
    /// <param name="error">What the socket reported, when the outcome is <see cref="ReceiveOutcome.Failed"/>.</param>
    public static unsafe ReceiveOutcome Receive(TransportConnection connection, int fd, ConnectionInput? input, byte[] buffer, bool untilEmpty, ref bool scatter, out SocketError error)
    {
        error = SocketError.Success;
        while (true)
        {
            // One read of up to 64 KiB into the loop's buffer, then a copy into blocks sized to what came: a few
            // bytes take a small block, a stream takes whole ones, and a read costs one system call either way. After a
            // large read, the next goes straight into the input's blocks instead (ReceiveScattered).
            var room = input is null ? buffer.Length : Math.Min(buffer.Length, input.ReceiveRoom);
            nint received;
            int errno;
            var keepReceiving = true;
            if (scatter && input is not null)
            {
                received = ReceiveScattered(connection, fd, input, room, out errno, out keepReceiving);
            }
            else
            {
                fixed (byte* target = buffer)
                {
                    received = LinuxNative.Receive(fd, target, (nuint)room, 0, out errno);
                }

                if (received > 0)
                {
                    connection.AddBytesReceived(received);
                    if (input is not null)
                    {
                        keepReceiving = input.Append(buffer.AsSpan(0, (int)received));
                    }
                }
            }

            if (received > 0)
            {
                if (input is not null)
                {
                    connection.ReceivedBytesVisible();
                }

                scatter = received >= ScatterFrom;

                // Fewer bytes than asked for means the socket is empty now, and an edge-triggered loop reports
                // the next arrival; a full read means there may be more. (Not so at TCP's urgent mark, where a recv
                // stops short: the connection reads until empty while urgent data waits.)
                if (!keepReceiving || (received < room && !untilEmpty))
                {
                    return ReceiveOutcome.Continue;
                }

                continue;
            }

            if (received == 0)
            {
                return ReceiveOutcome.ClientEnded;
            }

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

    /// <summary>
    /// One readv of up to <paramref name="size"/> bytes into the room left in the input's last block, then into fresh
    /// whole blocks, which the input takes as they are: nothing is copied. Every block is on the pinned object heap, so
    /// its address holds for the length of the call.
    /// </summary>
    private static unsafe nint ReceiveScattered(TransportConnection connection, int fd, ConnectionInput input, int size, out int errno, out bool keepReceiving)
    {
        var blocks = default(Blocks);
        Span<BufferSegment?> span = blocks;
        var tail = input.BeginScatter(size, span, out var count);
        var vectors = stackalloc LinuxNative.IoVector[ScatterBlocks + 1];
        var vectorCount = 0;
        var asked = 0;
        if (!tail.IsEmpty)
        {
            vectors[vectorCount].Base = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(tail.Span));
            vectors[vectorCount++].Length = (nuint)tail.Length;
            asked = tail.Length;
        }

        for (var i = 0; i < count; i++)
        {
            var length = Math.Min(size - asked, PinnedBlockMemoryPool.BlockSize);
            vectors[vectorCount].Base = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(span[i]!.Array));
            vectors[vectorCount++].Length = (nuint)length;
            asked += length;
        }

        var received = LinuxNative.ReceiveVectors(fd, vectors, vectorCount, out errno);
        if (received > 0)
        {
            connection.AddBytesReceived(received);
        }

        keepReceiving = input.EndScatter(received, tail.Length, span[..count]);
        return received;
    }

    [InlineArray(ScatterBlocks)]
    private struct Blocks
    {
        private BufferSegment? _block;
    }

    /// <summary>Whether bytes the connection has not read wait in the socket; false when none do or the socket fails.</summary>
    public static unsafe bool HasBytesWaiting(int fd)
    {
        byte peek;
        return LinuxNative.Receive(fd, &peek, 1, LinuxNative.MsgPeek | LinuxNative.MsgDontWait, out _) > 0;
    }
}
