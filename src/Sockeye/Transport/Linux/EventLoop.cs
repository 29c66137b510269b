using System.Diagnostics;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Sockeye.Diagnostics;

namespace Sockeye.Transport.Linux;

/// <summary>
/// One thread, one epoll instance: it waits for readiness and dispatches it to the handlers registered by file
/// descriptor, and runs work posted to it by other threads (woken through an eventfd).
/// </summary>
internal sealed unsafe class EventLoop : IDisposable
{
    private const int MaxEvents = 256;

    // How long a loop polls after work before it sleeps (SOCKEYE_EPOLL_SPIN_US, microseconds; 0 never polls).
    private static readonly long s_spinTicks = SpinTicks();

    // The eventfd's own registration carries this instead of a descriptor number.
    private const ulong WakeToken = ulong.MaxValue;

    private readonly int _epoll;
    private readonly int _wake;
    private readonly Thread _thread;
    private readonly ILogger _logger;
    private readonly ConcurrentQueue<IEventLoopWork> _work = new();
    private readonly Lock _growLock = new();
    private readonly PinnedBlockMemoryPool? _blocks;

    // The loop whose thread this is, if it is one.
    [ThreadStatic]
    private static EventLoop? t_current;

    // Work this loop's thread scheduled during the current round, for this loop or another, run or posted once the
    // round's events are handled: touched by this loop's thread only.
    private List<(EventLoop Loop, IEventLoopWork Work)> _deferred = [];
    private List<(EventLoop Loop, IEventLoopWork Work)> _running = [];
    private IEventHandler?[] _handlers = new IEventHandler?[1024];

    /// <summary>
    /// Where the loop's connections receive: one large read into it, then a copy into the connection's input, sized to
    /// what arrived (after a large read, a connection reads straight into its input's blocks instead: LinuxReceiver).
    /// Only the loop's thread receives, so one buffer serves all its connections.
    /// </summary>
    public byte[] ReceiveBuffer { get; } = GC.AllocateUninitializedArray<byte>(64 * 1024, pinned: true);
    private int _wakePending;
    private volatile bool _stopping;

    /// <param name="index">Names the loop's thread.</param>
    /// <param name="logger">Where the loop reports a handler's fault or its own.</param>
    /// <param name="blocks">The pool the loop's connections receive into; its thread keeps a few blocks of it for itself.</param>
    public EventLoop(int index, ILogger logger, PinnedBlockMemoryPool? blocks = null)
    {
        _logger = logger;
        _blocks = blocks;
        _epoll = LinuxNative.epoll_create1(LinuxNative.EpollCloexec);
        if (_epoll < 0)
        {
            throw new IOException($"epoll_create1 failed (errno {LinuxNative.LastError}).");
        }

        _wake = LinuxNative.eventfd(0, LinuxNative.SockNonBlock | LinuxNative.SockCloexec);
        if (_wake < 0)
        {
            LinuxNative.close(_epoll);
            throw new IOException($"eventfd failed (errno {LinuxNative.LastError}).");
        }

        Control(LinuxNative.EpollCtlAdd, _wake, LinuxNative.EpollIn, WakeToken);
        _thread = new Thread(Run) { IsBackground = true, Name = $"sockeye-epoll-{index}" };
        _thread.UnsafeStart();
    }

    /// <summary>Work posted to this loop and not yet taken: for tests that check when work is posted.</summary>
    internal int PostedWorkCount => _work.Count;

    /// <summary>Starts delivering <paramref name="events"/> for <paramref name="fd"/> to <paramref name="handler"/>.</summary>
    public void Add(int fd, IEventHandler handler, uint events)
    {
        // The handler is in the table before epoll can report the descriptor (epoll_ctl is a full barrier).
        lock (_growLock)
        {
            if (fd >= _handlers.Length)
            {
                var grown = new IEventHandler?[Math.Max(fd + 1, _handlers.Length * 2)];
                _handlers.CopyTo(grown, 0);
                Volatile.Write(ref _handlers, grown);
            }

            _handlers[fd] = handler;
        }

        Control(LinuxNative.EpollCtlAdd, fd, events, (ulong)fd);
    }

    /// <summary>
    /// Changes the events watched for <paramref name="fd"/>, from any thread; epoll reports at once what is already
    /// ready, so nothing that happened before the change is missed. False when epoll could not take it.
    /// </summary>
    public bool TryModify(int fd, uint events) => TryControl(LinuxNative.EpollCtlMod, fd, events, (ulong)fd);

    /// <summary>
    /// Forgets <paramref name="fd"/>, if it still belongs to <paramref name="handler"/>. Call before the descriptor is
    /// closed, so a new owner of the number is never forgotten by mistake.
    /// </summary>
    public void Remove(int fd, IEventHandler handler)
    {
        var handlers = Volatile.Read(ref _handlers);
        if (fd < handlers.Length)
        {
            Interlocked.CompareExchange(ref handlers[fd], null, handler);
        }
    }

    /// <summary>Stops watching a descriptor that stays open (a listener owned by a Socket).</summary>
    public void Unwatch(int fd, IEventHandler handler)
    {
        Remove(fd, handler);
        LinuxNative.epoll_ctl(_epoll, LinuxNative.EpollCtlDel, fd, null);
    }

    /// <summary>Runs <paramref name="work"/> on the loop's thread soon.</summary>
    public void Post(IEventLoopWork work)
    {
        _work.Enqueue(work);
        if (Interlocked.Exchange(ref _wakePending, 1) == 0)
        {
            ulong one = 1;
            LinuxNative.write(_wake, (byte*)&one, sizeof(ulong));
        }
    }

    public bool IsLoopThread => Thread.CurrentThread == _thread;

    /// <summary>
    /// Runs <paramref name="work"/> on this loop. Called on a loop's thread (this one or another), it waits until that
    /// loop has handled the current round of events and posted work, so what they schedule together runs once, after
    /// all of them (and a post to another loop wakes it once); called on any other thread, it is posted at once.
    /// </summary>
    public void Defer(IEventLoopWork work)
    {
        if (t_current is { } current)
        {
            current._deferred.Add((this, work));
        }
        else
        {
            Post(work);
        }
    }

    private static long SpinTicks()
    {
        var text = Environment.GetEnvironmentVariable("SOCKEYE_EPOLL_SPIN_US");
        var microseconds = int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value) ? value : 50;
        return microseconds * Stopwatch.Frequency / 1_000_000;
    }

    public void Dispose()
    {
        _stopping = true;
        ulong one = 1;
        LinuxNative.write(_wake, (byte*)&one, sizeof(ulong));
        if (!IsLoopThread)
        {
            _thread.Join(TimeSpan.FromSeconds(5));
        }

        LinuxNative.close(_wake);
        LinuxNative.close(_epoll);
    }

    private void Control(int operation, int fd, uint events, ulong data)
    {
        if (!TryControl(operation, fd, events, data))
        {
            throw new IOException($"epoll_ctl failed for descriptor {fd} (errno {LinuxNative.LastError}).");
        }
    }

    private bool TryControl(int operation, int fd, uint events, ulong data)
    {
        var buffer = stackalloc byte[16];
        *(uint*)buffer = events;
        *(ulong*)(buffer + LinuxNative.EpollEventDataOffset) = data;
        return LinuxNative.epoll_ctl(_epoll, operation, fd, buffer) == 0;
    }

    private void Run()
    {
        t_current = this;
        _blocks?.KeepBlocksOnThisThread();
        var size = LinuxNative.EpollEventSize;
        var offset = LinuxNative.EpollEventDataOffset;
        var events = (byte*)NativeMemory.Alloc((nuint)(MaxEvents * size));
        try
        {
            var spinUntil = 0L;
            while (!_stopping)
            {
                // Right after work, poll for a little while before sleeping: a client that answers at once finds the
                // loop awake, not paying a wake-up per message. Yielding between polls leaves the core to the threads
                // that handle what the loop dispatched.
                var spinning = s_spinTicks > 0 && Stopwatch.GetTimestamp() < spinUntil;
                var count = LinuxNative.epoll_wait(_epoll, events, MaxEvents, spinning ? 0 : -1);
                if (count == 0)
                {
                    Thread.Yield();
                    continue;
                }

                if (count < 0)
                {
                    if (LinuxNative.LastError == LinuxNative.Eintr)
                    {
                        continue;
                    }

                    Log.EventLoopFailed(_logger, LinuxNative.LastError);
                    return;
                }

                var woken = false;
                var handlers = Volatile.Read(ref _handlers);
                for (var i = 0; i < count; i++)
                {
                    var entry = events + (i * size);
                    var data = *(ulong*)(entry + offset);
                    if (data == WakeToken)
                    {
                        woken = true;
                        continue;
                    }

                    var fd = (int)data;
                    if (fd >= handlers.Length)
                    {
                        handlers = Volatile.Read(ref _handlers);
                    }

                    if (fd < handlers.Length && Volatile.Read(ref handlers[fd]) is { } handler)
                    {
                        Dispatch(handler, *(uint*)entry);
                    }
                }

                spinUntil = Stopwatch.GetTimestamp() + s_spinTicks;
                if (woken)
                {
                    ulong value;
                    LinuxNative.read(_wake, (byte*)&value, sizeof(ulong));

                    // Cleared before the queue is drained: a post after this point writes the eventfd again. A full fence,
                    // not a plain store: the queue's emptiness is read with plain loads, which a processor may carry out
                    // before a plain store here is visible (x86 included). A post could then still see the wake pending
                    // and not write, while the drain below found its work not yet queued: the work would wait, with the
                    // eventfd quiet, until some later post (Post's side orders its enqueue and exchange the same way).
                    Interlocked.Exchange(ref _wakePending, 0);
                    while (_work.TryDequeue(out var work))
                    {
                        Execute(work);
                    }
                }

                RunDeferred();
            }
        }
        finally
        {
            NativeMemory.Free(events);
        }
    }

    /// <summary>Runs what this round deferred, and what that defers in turn, before the loop waits again.</summary>
    private void RunDeferred()
    {
        while (_deferred.Count > 0)
        {
            (_deferred, _running) = (_running, _deferred);
            foreach (var (loop, work) in _running)
            {
                if (loop == this)
                {
                    Execute(work);
                }
                else
                {
                    loop.Post(work);
                }
            }

            _running.Clear();
        }
    }

#pragma warning disable CA1031 // One connection's fault must never stop the loop that serves thousands.
    private void Dispatch(IEventHandler handler, uint events)
    {
        try
        {
            handler.OnEvents(events);
        }
        catch (Exception ex)
        {
            Log.EventHandlerFailed(_logger, ex);
        }
    }

    private void Execute(IEventLoopWork work)
    {
        try
        {
            work.Execute();
        }
        catch (Exception ex)
        {
            Log.EventHandlerFailed(_logger, ex);
        }
    }
#pragma warning restore CA1031
}
