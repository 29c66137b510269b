using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Sockeye.Transport.Linux;

namespace Sockeye.Cli.Bench.Native;

/// <summary>An epoll instance and the buffer its events are read into.</summary>
internal sealed unsafe class Epoll : IDisposable
{
    private static readonly int s_stride = LinuxNative.EpollEventSize;
    private static readonly int s_dataOffset = LinuxNative.EpollEventDataOffset;

    private readonly int _fd;
    private readonly byte* _events;
    private readonly int _capacity;
    private bool _disposed;

    public Epoll(int capacity)
    {
        _fd = LinuxNative.epoll_create1(LinuxNative.EpollCloexec);
        if (_fd < 0)
        {
            throw new BenchException($"Cannot create an epoll instance: {LinuxNative.Describe(Marshal.GetLastPInvokeError())}");
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
        return LinuxNative.epoll_ctl(_fd, LinuxNative.EpollCtlAdd, fd, entry) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>Waits up to <paramref name="timeoutMilliseconds"/> for events; returns how many arrived.</summary>
    public int Wait(int timeoutMilliseconds)
    {
        var count = LinuxNative.epoll_wait(_fd, _events, _capacity, timeoutMilliseconds);
        if (count >= 0)
        {
            return count;
        }

        var errno = Marshal.GetLastPInvokeError();
        return errno == LinuxNative.Eintr ? 0 : throw new InvalidOperationException($"epoll_wait failed: {LinuxNative.Describe(errno)}");
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
        LinuxNative.close(_fd);
        NativeMemory.Free(_events);
    }
}
