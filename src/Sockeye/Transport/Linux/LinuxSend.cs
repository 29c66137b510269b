using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Sockeye.Transport.Linux;

/// <summary>Sending: one non-blocking send of what a connection's output has flushed, straight from its pinned blocks.</summary>
internal static class LinuxSend
{
    private const int MaxIoVectors = 64;

    /// <summary>Sends what the socket takes now: the bytes sent, or -1 with the error in <see cref="LinuxNative.LastError"/>.</summary>
    public static nint Send(int fd, in ReadOnlySequence<byte> data) => data.IsSingleSegment ? SendOne(fd, data.FirstSpan) : SendMany(fd, data);

    private static unsafe nint SendOne(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* buffer = data)
        {
            return LinuxNative.send(fd, buffer, (nuint)data.Length, LinuxNative.MsgNoSignal | LinuxNative.MsgDontWait);
        }
    }

    private static unsafe nint SendMany(int fd, in ReadOnlySequence<byte> data)
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
        return LinuxNative.sendmsg(fd, &message, LinuxNative.MsgNoSignal | LinuxNative.MsgDontWait);
    }
}
