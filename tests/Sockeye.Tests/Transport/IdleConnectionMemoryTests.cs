using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging.Abstractions;
using Sockeye.Transport;
using Sockeye.Transport.Linux;

namespace Sockeye.Tests.Transport;

/// <summary>
/// What an idle connection holds is a target (at most 1 KiB per connection, `sockeye bench idle`; 844 B measured before
/// server push, see docs/benchmarks.md). Its own objects are most of the managed part of that, so they have a budget
/// here, measured exactly: growing them is a decision to make, and to measure with `bench idle`, not a side effect.
/// </summary>
public class IdleConnectionMemoryTests
{
    // The epoll connection, its input and its output, as accepted: no buffer, no push state, no items, no groups.
    // 536 B before server push; 560 B with it (the output's gate, 16 B, and the connection's extras, 8 B: its push
    // queue, items and groups are created on first use). 576 B with the client's address kept from the accept (16 B: the
    // address and port in 20 B, less the 4 B of the family it now also holds), so a client that resets is still named.
    private const long Budget = 576;

    [Fact(Timeout = Timeouts.Fast)]
    public async Task An_idle_epoll_connections_own_objects_stay_within_their_budget()
    {
        Assert.SkipUnless(LinuxTransport.IsSupported, "The epoll transport runs on Linux only.");
        await Task.Yield();
        using var context = new ServerContext(new SocketServerOptions(), NullLoggerFactory.Instance, TimeProvider.System, meterFactory: null);
        using var loop = new EventLoop(0, NullLogger.Instance);
        var pipes = new LinuxPipeSettings(context);
        ConnectionDelegate pipeline = _ => Task.CompletedTask;

        // The first one pays for what is created once (statics, the JIT's work); the second is what each connection costs.
        GC.KeepAlive(new LinuxConnection(1, -1, PeerAddress.None(AddressFamily.InterNetwork), loop, pipes, pipeline, context));
        var before = GC.GetAllocatedBytesForCurrentThread();
        var connection = new LinuxConnection(2, -1, PeerAddress.None(AddressFamily.InterNetwork), loop, pipes, pipeline, context);
        var bytes = GC.GetAllocatedBytesForCurrentThread() - before;
        GC.KeepAlive(connection);

        Assert.True(bytes <= Budget, $"An idle epoll connection's objects take {bytes} B, over the budget of {Budget} B: " +
            $"{nameof(LinuxConnection)} {SizeOf<LinuxConnection>()} B, {nameof(ConnectionInput)} {SizeOf<ConnectionInput>()} B, " +
            $"{nameof(ConnectionOutput)} {SizeOf<ConnectionOutput>()} B.");
    }

    private static long SizeOf<T>()
    {
        RuntimeHelpers.GetUninitializedObject(typeof(T));
        var before = GC.GetAllocatedBytesForCurrentThread();
        GC.KeepAlive(RuntimeHelpers.GetUninitializedObject(typeof(T)));
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }
}
