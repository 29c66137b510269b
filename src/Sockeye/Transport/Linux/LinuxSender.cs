using System.Buffers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Sockeye.Transport.Linux;

/// <summary>
/// Sending: what a connection's output has flushed goes out in one non-blocking system call, straight from its pinned
/// blocks. Static, so a connection pays nothing for it; the connection guards the descriptor and counts the bytes.
/// </summary>
internal static class LinuxSender
{
    private const int MaxIoVectors = 64;

    /// <summary>
    /// Sends what the socket takes now: the bytes sent, <see cref="SendResult.Blocked"/> when the socket is full, or the
    /// error it reported. An interrupted call is retried.
    /// </summary>
    public static SendResult Send(int fd, in ReadOnlySequence<byte> data)
    {
        while (true)
        {
            int errno;
            var sent = data.IsSingleSegment ? SendOne(fd, data.FirstSpan, out errno) : SendMany(fd, data, out errno);
            if (sent >= 0)
            {
                return new SendResult((int)sent, false, SocketError.Success);
            }

            if (errno == LinuxNative.Eintr)
            {
                continue;
            }

            return errno == LinuxNative.Eagain ? SendResult.Blocked : new SendResult(0, false, LinuxNative.ToSocketError(errno));
        }
    }

    private static unsafe nint SendOne(int fd, ReadOnlySpan<byte> data, out int errno)
    {
        fixed (byte* buffer = data)
        {
            return LinuxNative.Send(fd, buffer, (nuint)data.Length, LinuxNative.MsgNoSignal | LinuxNative.MsgDontWait, out errno);
        }
    }

    private static unsafe nint SendMany(int fd, in ReadOnlySequence<byte> data, out int errno)
    {
        // Every block is on the pinned object heap, so its address holds for the length of the call.
        var vectors = stackalloc LinuxNative.IoVector[MaxIoVectors];
        var count = 0;
        foreach (var memory in data)
        {
            if (memory.IsEmpty)
            {
                continue;
            }

            vectors[count].Base = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(memory.Span));
            vectors[count].Length = (nuint)memory.Length;
            if (++count == MaxIoVectors)
            {
                break;
            }
        }

        var message = default(LinuxNative.MessageHeader);
        message.Vectors = vectors;
        message.VectorCount = (nuint)count;
        return LinuxNative.SendMessage(fd, &message, LinuxNative.MsgNoSignal | LinuxNative.MsgDontWait, out errno);
    }
}
