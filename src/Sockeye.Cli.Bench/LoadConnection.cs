using System.Diagnostics;
using System.Runtime.CompilerServices;
using Sockeye.Cli.Bench.Native;
using Sockeye.Transport.Linux;

namespace Sockeye.Cli.Bench;

/// <summary>
/// One client connection of a workload, driven by its event loop's thread alone: it opens a non-blocking socket,
/// connects, then reacts to readiness. Workloads say what to send and what to expect.
/// </summary>
internal abstract class LoadConnection
{
    private static readonly long s_connectTimeout = Stopwatch.Frequency * 15;

    // Bumped for every socket the connection opens: an event that was already queued for a socket closed since
    // (its descriptor number may be reused at once) carries the old generation and is dropped.
    private uint _generation;
    private long _connectStarted;
    private bool _connecting;
    private bool _connected;

    protected LoadConnection(LoadLoop loop, int index)
    {
        Loop = loop;
        Index = index;
    }

    /// <summary>The connection's number within the run: it picks the payload's starting point.</summary>
    public int Index { get; }

    /// <summary>The connection's place in its loop, carried in every epoll event.</summary>
    public int Slot { get; set; }

    /// <summary>Set once the connection has nothing more to do in this run.</summary>
    public bool IsFinished { get; private set; }

    protected LoadLoop Loop { get; }

    protected LoopStats Stats => Loop.Stats;

    /// <summary>The socket's descriptor, or -1 while there is none.</summary>
    protected int Fd { get; private set; } = -1;

    /// <summary>Whether the connection reads what the server sends (a slow consumer in the broadcast workload does not).</summary>
    public virtual bool Reads => true;

    /// <summary>A receive buffer to ask for before connecting, or 0 for the system's.</summary>
    protected virtual int ReceiveBufferSize => 0;

    /// <summary>A maximum segment size to announce before connecting, or 0 for the system's.</summary>
    protected virtual int MaxSegmentSize => 0;

    /// <summary>Whether the loop calls <see cref="OnPoll"/> after every wait, for work no event of its own announces.</summary>
    public virtual bool Polled => false;

    /// <summary>Called after every wait of the loop when <see cref="Polled"/>.</summary>
    public virtual void OnPoll()
    {
    }

    /// <summary>Starts the connection's work; the loop calls it when a connect may begin.</summary>
    public abstract void Begin();

    /// <summary>The run is draining: send nothing new, close once what is under way is done.</summary>
    public abstract void OnDrain();

    /// <summary>Called about ten times a second, to give up on what takes too long.</summary>
    public virtual void OnSweep(long now)
    {
        if (_connecting && now - _connectStarted > s_connectTimeout)
        {
            Fail("connect timed out after 15 s");
        }
    }

    /// <summary>The run is over: whatever is still under way is an error, as nothing will finish it now.</summary>
    public void OnStopped()
    {
        if (IsFinished)
        {
            return;
        }

        if (Fd >= 0 && (_connecting || IsBusy))
        {
            Fail(_connecting ? "still connecting when the run ended" : StillOwed());
        }
        else
        {
            Finish();
        }
    }

    /// <summary>What is wrong with a connection still busy when the run ended, after the drain's grace.</summary>
    protected virtual string StillOwed() => "still waiting for the server when the run ended";

    /// <summary>Whether an exchange with the server is under way (a reply is owed).</summary>
    protected abstract bool IsBusy { get; }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void OnEvents(uint events, uint generation)
    {
        if (generation != _generation || Fd < 0)
        {
            return;
        }

        if (_connecting)
        {
            if ((events & (LinuxNative.EpollOut | LinuxNative.EpollErr | LinuxNative.EpollHup)) == 0)
            {
                return;
            }

            var error = TcpSocket.PendingError(Fd);
            if (error != 0)
            {
                Fail(ConnectError(error));
                return;
            }

            MarkConnected();
            return;
        }

        if ((events & LinuxNative.EpollOut) != 0)
        {
            OnWritable();
        }

        if (!Reads)
        {
            // A connection that never reads learns that the server ended it from the hang-up alone.
            if (Fd >= 0 && (events & (LinuxNative.EpollRdHup | LinuxNative.EpollHup | LinuxNative.EpollErr)) != 0)
            {
                OnEndOfStream();
            }

            return;
        }

        if (Fd >= 0 && (events & (LinuxNative.EpollIn | LinuxNative.EpollRdHup | LinuxNative.EpollHup | LinuxNative.EpollErr)) != 0)
        {
            ReadAvailable(endOfStream: (events & (LinuxNative.EpollRdHup | LinuxNative.EpollHup | LinuxNative.EpollErr)) != 0);
        }
    }

    /// <summary>Opens a socket and starts connecting; the loop calls it within its limit of concurrent connects.</summary>
    public void Open()
    {
        _generation++;
        var fd = TcpSocket.Open(Loop.EndPoint.Family);
        if (fd < 0)
        {
            Stats.ConnectFailed();
            Loop.ConnectEnded();
            Fail($"socket() failed: {LinuxNative.Describe(-fd)}");
            return;
        }

        if (ReceiveBufferSize > 0)
        {
            TcpSocket.SetReceiveBuffer(fd, ReceiveBufferSize);
        }

        if (MaxSegmentSize > 0)
        {
            TcpSocket.SetMaxSegment(fd, MaxSegmentSize);
        }

        var registered = Loop.Register(fd, ((ulong)_generation << 32) | (uint)Slot);
        if (registered != 0)
        {
            TcpSocket.Close(fd);
            Stats.ConnectFailed();
            Loop.ConnectEnded();
            Fail($"epoll_ctl failed: {LinuxNative.Describe(registered)}");
            return;
        }

        Fd = fd;
        _connecting = true;
        _connectStarted = Stopwatch.GetTimestamp();
        var result = Loop.NextSource() is { } source ? TcpSocket.BindSource(fd, source) : 0;
        if (result == 0)
        {
            result = TcpSocket.Connect(fd, Loop.EndPoint);
        }

        if (result == 0)
        {
            MarkConnected();
        }
        else if (result != -LinuxNative.Einprogress)
        {
            Fail(ConnectError(-result));
        }
    }

    private void MarkConnected()
    {
        _connecting = false;
        _connected = true;
        Loop.ConnectEnded();
        Stats.Connected();
        OnConnected();
    }

    protected abstract void OnConnected();

    /// <summary>Handles received bytes; returns false to stop reading (the connection failed or finished).</summary>
    protected abstract bool OnReceived(ReadOnlySpan<byte> data);

    /// <summary>The server closed its side.</summary>
    protected abstract void OnEndOfStream();

    protected abstract void OnWritable();

    /// <summary>Sends from <paramref name="data"/>; returns bytes sent (0 when the socket buffer is full) or -1 after a failure.</summary>
    protected nint Send(ReadOnlySpan<byte> data)
    {
        var sent = TcpSocket.Send(Fd, data);
        if (sent >= 0)
        {
            Stats.Sent(sent);
            return sent;
        }

        if (sent == -LinuxNative.Eagain)
        {
            return 0;
        }

        Fail(SocketError("send", (int)-sent));
        return -1;
    }

    /// <summary>
    /// Reads what arrived into the loop's shared buffer. A short read means the socket is empty (edge-triggered
    /// epoll reports the next arrival), unless <paramref name="endOfStream"/>: the end of the stream may have come
    /// with the data, and no new edge would announce it, so reading goes on until it shows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ReadAvailable(bool endOfStream)
    {
        var buffer = Loop.ReceiveBuffer;
        while (true)
        {
            var received = TcpSocket.Receive(Fd, buffer);
            if (received == 0)
            {
                OnEndOfStream();
                return;
            }

            if (received < 0)
            {
                if (received != -LinuxNative.Eagain)
                {
                    Fail(SocketError("receive", (int)-received));
                }

                return;
            }

            Stats.Received(received);
            if (!OnReceived(buffer.AsSpan(0, (int)received)) || (received < buffer.Length && !endOfStream))
            {
                return;
            }
        }
    }

    /// <summary>Closes the socket, if open; the connection may open another.</summary>
    protected void CloseSocket()
    {
        if (Fd < 0)
        {
            return;
        }

        if (_connected)
        {
            _connected = false;
            Stats.Closed();
        }

        if (_connecting)
        {
            _connecting = false;
            Stats.ConnectFailed();
            Loop.ConnectEnded();
        }

        TcpSocket.Close(Fd);
        Fd = -1;
    }

    /// <summary>Counts an error and closes the socket; <see cref="OnFailed"/> decides what comes next.</summary>
    protected void Fail(string message)
    {
        Stats.Error(message);
        CloseSocket();
        OnFailed();
    }

    /// <summary>After an error: by default the connection is done for the run.</summary>
    protected virtual void OnFailed() => Finish();

    /// <summary>Closes the socket and tells the loop this connection is done for the run.</summary>
    protected void Finish()
    {
        CloseSocket();
        if (!IsFinished)
        {
            IsFinished = true;
            Loop.ConnectionFinished();
        }
    }

    private static string ConnectError(int errno) => errno switch
    {
        LinuxNative.Econnrefused => "connection refused",
        LinuxNative.Eaddrnotavail => "no local port left to connect from (EADDRNOTAVAIL)",
        LinuxNative.Emfile => "too many open files (ulimit -n)",
        _ => $"connect failed: {LinuxNative.Describe(errno)}",
    };

    private static string SocketError(string operation, int errno) => errno switch
    {
        LinuxNative.Econnreset => $"the server reset the connection ({operation})",
        LinuxNative.Epipe => "the server closed the connection before the request was sent",
        _ => $"{operation} failed: {LinuxNative.Describe(errno)}",
    };
}
