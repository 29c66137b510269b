using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Sockeye.Cli.Bench.Native;

/// <summary>An epoll instance and the buffer its events are read into.</summary>
internal sealed unsafe class Epoll : IDisposable
{
    // struct epoll_event is packed on x86-64 (12 bytes: events, then data at offset 4) and naturally aligned
    // elsewhere (16 bytes: data at offset 8).
    private static readonly int s_stride = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;
    private static readonly int s_dataOffset = s_stride == 12 ? 4 : 8;

    private readonly int _fd;
    private readonly byte* _events;
    private readonly int _capacity;
    private bool _disposed;

    public Epoll(int capacity)
    {
        _fd = Libc.EpollCreate1(Libc.EpollCloExec);
        if (_fd < 0)
        {
            throw new CliException($"Cannot create an epoll instance: {Libc.Describe(Marshal.GetLastPInvokeError())}");
        }

        _capacity = capacity;
        _events = (byte*)NativeMemory.AllocZeroed((nuint)(capacity * s_stride));
    }

    /// <summary>Watches <paramref name="fd"/> for <paramref name="events"/>; returns 0 or an errno.</summary>
    public int Add(int fd, uint events, ulong data)
    {
        var entry = stackalloc byte[16];
        Unsafe.WriteUnaligned(entry, events);
        Unsafe.WriteUnaligned(entry + s_dataOffset, data);
        return Libc.EpollCtl(_fd, Libc.EpollCtlAdd, fd, entry) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>Waits up to <paramref name="timeoutMilliseconds"/> for events; returns how many arrived.</summary>
    public int Wait(int timeoutMilliseconds)
    {
        var count = Libc.EpollWait(_fd, _events, _capacity, timeoutMilliseconds);
        if (count >= 0)
        {
            return count;
        }

        var errno = Marshal.GetLastPInvokeError();
        return errno == Libc.EIntr ? 0 : throw new InvalidOperationException($"epoll_wait failed: {Libc.Describe(errno)}");
    }

    public uint EventsAt(int index) => Unsafe.ReadUnaligned<uint>(_events + (index * s_stride));

    public ulong DataAt(int index) => Unsafe.ReadUnaligned<ulong>(_events + (index * s_stride) + s_dataOffset);

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Libc.Close(_fd);
        NativeMemory.Free(_events);
    }
}
