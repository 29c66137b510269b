using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Sockeye.Cli.Bench.Native;
using Sockeye.Transport.Linux;

namespace Sockeye.Cli.Bench;

/// <summary>
/// One thread, one epoll instance, and the connections it drives. Everything a connection does happens on this
/// thread, so connections need no locks, and one receive buffer serves them all: each processes what it reads at once.
/// </summary>
internal sealed class LoadLoop : IDisposable
{
    private const int EventCapacity = 1024;

    // Short enough that a phase change is seen within a few milliseconds, long enough to cost nothing when idle.
    private const int WaitMilliseconds = 5;

    private static readonly long s_sweepInterval = Stopwatch.Frequency / 10;

    private readonly Epoll _epoll = new(EventCapacity);
    private readonly List<LoadConnection> _connections = [];
    private readonly List<LoadConnection> _polled = [];
    private readonly Queue<LoadConnection> _waitingToConnect = new();
    private readonly BenchControl _control;
    private readonly int _maxConnecting;
    private readonly Thread _thread;
    private int _connecting;
    private int _unfinished;
    private volatile bool _drained;

    public LoadLoop(int index, BenchControl control, NativeEndPoint endPoint, int maxConnecting)
    {
        _control = control;
        _maxConnecting = maxConnecting;
        EndPoint = endPoint;
        if (endPoint.Family == AddressFamily.InterNetwork && IPAddress.IsLoopback(endPoint.EndPoint.Address))
        {
            Sources = s_loopbackSources;
        }

        _thread = new Thread(Run) { IsBackground = true, Name = $"sockeye bench loop {index}" };
    }

    public NativeEndPoint EndPoint { get; }

    /// <summary>
    /// The addresses connections come from, in turn, when the server is on IPv4 loopback: 127.0.0.1 to 127.0.0.16.
    /// Every closed connection holds its port for a minute in TIME_WAIT (on this side when the client closes first, as
    /// with --half-close); from one address, a few thousand connections a second exhaust the port range and every
    /// connect searches it, which measures the kernel rather than the server.
    /// </summary>
    public IReadOnlyList<NativeEndPoint> Sources { get; } = [];

    private static readonly NativeEndPoint[] s_loopbackSources =
        [.. Enumerable.Range(1, 16).Select(host => new NativeEndPoint(new IPEndPoint(new IPAddress([127, 0, 0, (byte)host]), 0)))];

    private int _nextSource;

    /// <summary>The source for the next connect, or null to let the kernel choose.</summary>
    public NativeEndPoint? NextSource() => Sources.Count == 0 ? null : Sources[_nextSource++ % Sources.Count];

    public LoopStats Stats { get; } = new();

    /// <summary>One buffer every connection of this loop receives into.</summary>
    public byte[] ReceiveBuffer { get; } = GC.AllocateUninitializedArray<byte>(Payload.MaxSlice, pinned: true);

    /// <summary>Whether latencies are being recorded now: the loop has seen the measuring phase begin and not end.</summary>
    public bool Measuring { get; private set; }

    /// <summary>Whether the run is draining: connections start nothing new.</summary>
    public bool Draining { get; private set; }

    /// <summary>Set once every connection has finished after draining began.</summary>
    public bool Drained => _drained;

    /// <summary>Adds a connection before the loop starts.</summary>
    public void Add(LoadConnection connection)
    {
        connection.Slot = _connections.Count;
        _connections.Add(connection);
        if (connection.Polled)
        {
            _polled.Add(connection);
        }

        _unfinished++;
    }

    public void Start() => _thread.Start();

    public bool Join(TimeSpan timeout) => _thread.Join(timeout);

    /// <summary>Asks for a connect; it starts at once, or when fewer than the limit are under way.</summary>
    public void RequestOpen(LoadConnection connection)
    {
        if (_connecting < _maxConnecting)
        {
            _connecting++;
            connection.Open();
        }
        else
        {
            _waitingToConnect.Enqueue(connection);
        }
    }

    /// <summary>A connect started by <see cref="RequestOpen"/> has succeeded or failed.</summary>
    public void ConnectEnded() => _connecting--;

    /// <summary>A connection is done for the run.</summary>
    public void ConnectionFinished()
    {
        _unfinished--;
        if (Draining && _unfinished == 0)
        {
            _drained = true;
        }
    }

    public int Register(int fd, ulong token) =>
        _epoll.Add(fd, LinuxNative.EpollIn | LinuxNative.EpollOut | LinuxNative.EpollRdHup | LinuxNative.EpollEdgeTriggered, token);

    public void Dispose() => _epoll.Dispose();

    /// <summary>What ended the loop's thread early, if anything did: a bug, or a system call that should not fail.</summary>
    public Exception? Fault { get; private set; }

    private void Run()
    {
        try
        {
            RunCore();
        }
#pragma warning disable CA1031 // The thread's last line of defence: the driver reports the fault as one line.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Fault = ex;
            _drained = true;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RunCore()
    {
        foreach (var connection in _connections)
        {
            connection.Begin();
        }

        var seen = BenchPhase.Connecting;
        var lastSweep = Stopwatch.GetTimestamp();
        while (true)
        {
            var phase = _control.Phase;
            if (phase != seen)
            {
                if (!Enter(seen, phase))
                {
                    return;
                }

                seen = phase;
            }

            while (_connecting < _maxConnecting && _waitingToConnect.TryDequeue(out var next))
            {
                _connecting++;
                next.Open();
            }

            var count = _epoll.Wait(WaitMilliseconds);
            for (var i = 0; i < count; i++)
            {
                var token = _epoll.DataAt(i);
                _connections[(int)(uint)token].OnEvents(_epoll.EventsAt(i), (uint)(token >> 32));
            }

            foreach (var connection in _polled)
            {
                connection.OnPoll();
            }

            var now = Stopwatch.GetTimestamp();
            if (now - lastSweep >= s_sweepInterval)
            {
                lastSweep = now;
                foreach (var connection in _connections)
                {
                    connection.OnSweep(now);
                }
            }
        }
    }

    /// <summary>Follows the driver into <paramref name="phase"/>; returns false once the loop should end.</summary>
    private bool Enter(BenchPhase from, BenchPhase phase)
    {
        if (phase >= BenchPhase.Measuring && from < BenchPhase.Measuring)
        {
            Measuring = true;
            Stats.MeasureStart = Stats.Snapshot();
            Stats.AllocatedWhileMeasuring = GC.GetAllocatedBytesForCurrentThread();
        }

        if (phase >= BenchPhase.Draining && from < BenchPhase.Draining)
        {
            Measuring = false;
            Stats.MeasureEnd = Stats.Snapshot();
            Stats.AllocatedWhileMeasuring = GC.GetAllocatedBytesForCurrentThread() - Stats.AllocatedWhileMeasuring;
            Draining = true;
            _waitingToConnect.Clear();
            foreach (var connection in _connections)
            {
                if (!connection.IsFinished)
                {
                    connection.OnDrain();
                }
            }

            _drained = _unfinished == 0;
        }

        if (phase == BenchPhase.Stopped)
        {
            foreach (var connection in _connections)
            {
                connection.OnStopped();
            }

            return false;
        }

        return true;
    }
}
