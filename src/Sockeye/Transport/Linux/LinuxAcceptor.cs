using System.Net.Sockets;

namespace Sockeye.Transport.Linux;

/// <summary>Accepts on one listening socket from its event loop, and starts a <see cref="LinuxConnection"/> per client.</summary>
internal sealed class LinuxAcceptor : IEventHandler, IEventLoopWork, IConnectionListener
{
    private readonly SocketListener _listener;
    private readonly LinuxTransport _transport;
    private readonly EventLoop _loop;
    private readonly ConnectionDispatcher _dispatcher;
    private readonly int _fd;
    private readonly AddressFamily _family;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stopping;

    // Loop thread only: a pause after an accept error is under way; the listening socket is closed.
    private bool _backingOff;
    private bool _closed;

    public LinuxAcceptor(SocketListener listener, LinuxTransport transport, EventLoop loop, ConnectionDispatcher dispatcher)
    {
        _listener = listener;
        _transport = transport;
        _loop = loop;
        _dispatcher = dispatcher;
        var socket = listener.Socket;
        socket.Blocking = false;
        _fd = (int)socket.Handle;
        _family = socket.AddressFamily;
        if (_family is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
        {
            // Replies are written whole by the handler; waiting to coalesce them only adds latency. Set once here:
            // Linux copies it to every socket this one accepts, which saves a system call per connection.
            socket.NoDelay = true;
        }

        loop.Add(_fd, this, LinuxNative.EpollIn | LinuxNative.EpollEdgeTriggered);
    }

    /// <summary>Stops accepting: serves what the kernel has queued, then closes the listening socket.</summary>
    public Task StopAsync()
    {
        _stopping = true;
        _loop.Post(this);
        return _stopped.Task;
    }

    public void OnEvents(uint events) => Accept(sweep: false);

    void IEventLoopWork.Execute()
    {
        if (_closed)
        {
            // A pause that ended after the stop: the descriptor is no longer ours.
            return;
        }

        if (_stopping)
        {
            // Connections the kernel has already completed are in flight for their clients (a load balancer may
            // have sent their first bytes already): closing the listener would reset them, so serve them instead,
            // and close it right after, on this thread, so that as few as possible can complete in between.
            Accept(sweep: true);
            _closed = true;
            _loop.Unwatch(_fd, this);
            _listener.Dispose();
            _stopped.TrySetResult();
            return;
        }

        _backingOff = false;
        Accept(sweep: false);
    }

    private unsafe void Accept(bool sweep)
    {
        // A TCP client's address comes with the accept, for free; a Unix socket's peer is read only if asked for.
        var keepsPeer = PeerAddress.Keeps(_family);
        var sockaddr = stackalloc byte[PeerAddress.BufferSize];
        while (sweep || !_stopping)
        {
            var length = PeerAddress.BufferSize;
            var fd = keepsPeer
                ? LinuxNative.accept4(_fd, sockaddr, &length, LinuxNative.SockNonBlock | LinuxNative.SockCloexec)
                : LinuxNative.accept4(_fd, null, null, LinuxNative.SockNonBlock | LinuxNative.SockCloexec);
            if (fd >= 0)
            {
                var peer = keepsPeer
                    ? PeerAddress.From(_family, new ReadOnlySpan<byte>(sockaddr, PeerAddress.BufferSize), length)
                    : PeerAddress.None(_family);
                _dispatcher.Dispatch(new AcceptedDescriptor(fd, peer, _transport));
                continue;
            }

            var errno = LinuxNative.LastError;
            var error = LinuxNative.ToSocketError(errno);
            if (errno == LinuxNative.Eagain)
            {
                return;
            }

            if (errno == LinuxNative.Eintr || SocketErrors.IsConnectionReset(error))
            {
                // Interrupted, or the client gave up while it waited in the backlog: go on.
                continue;
            }

            if (error is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable && !sweep && !_backingOff)
            {
                // The backlog still holds clients, but an edge-triggered loop will not report it again until another
                // arrives, so the acceptor tries again after the dispatcher's pause.
                _backingOff = true;
                _ = RetryAfterPauseAsync(error);
            }

            // Anything else means the listener itself is gone.
            return;
        }
    }

    private async Task RetryAfterPauseAsync(SocketError error)
    {
        if (await _dispatcher.BackOffAsync(error, new SocketException((int)error)).ConfigureAwait(false) && !_stopping)
        {
            _loop.Post(this);
        }
    }
}
