using System.Net.Sockets;

namespace Sockeye.Transport.Linux;

/// <summary>
/// Receiving, on the loop's thread only: what the socket holds is read into a connection's input, one system call per
/// read, until the socket is empty, the input is full, or the client's FIN or an error ends it. Static, so a connection
/// pays nothing for it; the connection guards the descriptor and decides what the end of receiving means.
/// </summary>
internal static class LinuxReceiver
{
    /// <param name="connection">Counts what is read, for the timeouts and the metrics.</param>
    /// <param name="fd">The connection's socket.</param>
    /// <param name="input">The input to fill; null once nobody reads it, to read what arrives and drop it.</param>
    /// <param name="buffer">The loop's receive buffer.</param>
    /// <param name="untilEmpty">
    /// Read until the socket reports it has nothing more, rather than stopping at a short read: needed when no
    /// later edge will come (the client's FIN or an error already arrived, or reading resumes after a pause).
    /// </param>
    /// <param name="error">What the socket reported, when the outcome is <see cref="ReceiveOutcome.Failed"/>.</param>
    public static unsafe ReceiveOutcome Receive(TransportConnection connection, int fd, ConnectionInput? input, byte[] buffer, bool untilEmpty, out SocketError error)
    {
        error = SocketError.Success;
        while (true)
        {
            // One read of up to 64 KiB into the loop's buffer, then a copy into blocks sized to what came: a few
            // bytes take a small block, a stream takes whole ones, and a read costs one system call either way.
            var room = input is null ? buffer.Length : Math.Min(buffer.Length, input.ReceiveRoom);
            nint received;
            int errno;
            fixed (byte* target = buffer)
            {
                received = LinuxNative.Receive(fd, target, (nuint)room, 0, out errno);
            }

            if (received > 0)
            {
                connection.AddBytesReceived(received);
                var keepReceiving = true;
                if (input is not null)
                {
                    keepReceiving = input.Append(buffer.AsSpan(0, (int)received));
                    connection.ReceivedBytesVisible();
                }

                // Fewer bytes than asked for means the socket is empty now, and an edge-triggered loop reports
                // the next arrival; a full read means there may be more.
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

    /// <summary>Whether bytes the connection has not read wait in the socket; false when none do or the socket fails.</summary>
    public static unsafe bool HasBytesWaiting(int fd)
    {
        byte peek;
        return LinuxNative.Receive(fd, &peek, 1, LinuxNative.MsgPeek | LinuxNative.MsgDontWait, out _) > 0;
    }
}
