namespace Sockeye.Transport.Linux;

/// <summary>
/// Sockeye's own transport on Linux: a few epoll loops that accept, receive and finish sends for every
/// connection. Connections are spread over the loops in turn.
/// </summary>
internal sealed class LinuxTransport : ITransport
{
    private readonly EventLoop[] _loops;
    private int _next;

    public LinuxTransport(ServerContext context, int loopCount)
    {
        Pipes = new LinuxPipeSettings(context);
        _loops = new EventLoop[Math.Max(1, loopCount)];
        for (var i = 0; i < _loops.Length; i++)
        {
            _loops[i] = new EventLoop(i, context.ServerLogger, context.MemoryPool);
        }
    }

    /// <summary>Whether this machine can run it; otherwise the server uses System.Net.Sockets.</summary>
    public static bool IsSupported => LinuxNative.IsSupported;

    public TransportKind Kind => TransportKind.Linux;

    /// <summary>The pipe settings every connection shares.</summary>
    public LinuxPipeSettings Pipes { get; }

    public IConnectionListener StartAccepting(SocketListener listener, ConnectionDispatcher dispatcher) =>
        new LinuxAcceptor(listener, this, NextLoop(), dispatcher);

    public EventLoop NextLoop() => _loops[(uint)Interlocked.Increment(ref _next) % (uint)_loops.Length];

    public void Dispose()
    {
        foreach (var loop in _loops)
        {
            loop.Dispose();
        }
    }
}
