using System.Net.Sockets;
using Sockeye.Diagnostics;

namespace Sockeye.Transport.Linux;

/// <summary>Accepts on one listening socket from its event loop, and starts a <see cref="LinuxConnection"/> per client.</summary>
internal sealed class LinuxAcceptor : IEventHandler, IEventLoopWork
{
    // After "too many open files" and the like: the backlog still holds clients, but an edge-triggered loop will
    // not report it again until another arrives, so the acceptor tries again on a timer.
    private static readonly TimeSpan s_retryDelay = TimeSpan.FromMilliseconds(100);

    private readonly SocketListener _listener;
    private readonly LinuxTransport _transport;
    private readonly EventLoop _loop;
    private readonly ConnectionDelegate _pipeline;
    private readonly ServerContext _context;
    private readonly int _fd;
    private readonly AddressFamily _family;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stopping;
    private ITimer? _retry;

    public LinuxAcceptor(SocketListener listener, LinuxTransport transport, EventLoop loop, ConnectionDelegate pipeline, ServerContext context)
    {
        _listener = listener;
        _transport = transport;
        _loop = loop;
        _pipeline = pipeline;
        _context = context;
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
        if (_stopping)
        {
            // Connections the kernel has already completed are in flight for their clients (a load balancer may
            // have sent their first bytes already): closing the listener would reset them, so serve them instead,
            // and close it right after, on this thread, so that as few as possible can complete in between.
            Accept(sweep: true);
            _retry?.Dispose();
            _loop.Unwatch(_fd, this);
            _listener.Dispose();
            _stopped.TrySetResult();
            return;
        }

        Accept(sweep: false);
    }

    private unsafe void Accept(bool sweep)
    {
        while (sweep || !_stopping)
        {
            var fd = LinuxNative.accept4(_fd, null, null, LinuxNative.SockNonBlock | LinuxNative.SockCloexec);
            if (fd >= 0)
            {
                Start(fd);
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

            if (error is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable)
            {
                Log.AcceptFailed(_context.ServerLogger, _listener.EndPoint, error, new SocketException((int)error));
                _retry ??= _context.TimeProvider.CreateTimer(static state => ((LinuxAcceptor)state!).Retry(), this, s_retryDelay, Timeout.InfiniteTimeSpan);
                _retry.Change(s_retryDelay, Timeout.InfiniteTimeSpan);
            }

            // Anything else means the listener itself is gone.
            return;
        }
    }

    private void Retry() => _loop.Post(this);

    /// <summary>
    /// Turns a client away at the connection limit with a reset. A method of its own: the lambda's captured descriptor
    /// would otherwise cost every accepted connection an allocation, refused or not.
    /// </summary>
    private unsafe void Refuse(int fd)
    {
        _context.Refuse(ConnectionEndReason.ConnectionLimit, () => SocketAddresses.Read(fd, _family, peer: true));
        var linger = new LinuxNative.Linger { OnOff = 1, Seconds = 0 };
        LinuxNative.setsockopt(fd, LinuxNative.SolSocket, LinuxNative.SoLinger, &linger, sizeof(LinuxNative.Linger));
        LinuxNative.close(fd);
    }

    private unsafe void Start(int fd)
    {
        if (!_context.TryAdmit())
        {
            Refuse(fd);
            return;
        }

        var connection = new LinuxConnection(_context.NextConnectionId(), fd, _family, _transport.NextLoop(), _pipeline, _context);
        _context.Connections.Add(connection);
        _context.Metrics.ConnectionAccepted();
        try
        {
            connection.Register();
        }
        catch (IOException)
        {
            // epoll could not take it (out of memory): refuse this client, keep serving the rest.
            _context.Connections.Remove(connection);
            LinuxNative.close(fd);
            return;
        }

        connection.Start();
    }
}
