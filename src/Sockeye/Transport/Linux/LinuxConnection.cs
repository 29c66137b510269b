using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Sockeye.Messaging;

namespace Sockeye.Transport.Linux;

/// <summary>
/// A connection carried by Sockeye's own epoll loop on Linux. It receives on its loop's thread, straight into the
/// handler's input blocks; it sends on whichever thread flushes, straight from the handler's output blocks, and
/// leaves only what a full socket cannot take for the loop to send when it becomes writable. An idle connection is
/// a registration in epoll and a few small objects: no buffer, no pending operation, no timer.
/// </summary>
internal sealed class LinuxConnection : TransportConnection, IDuplexPipe, IEventHandler, IEventLoopWork, IInputTransport, IOutputTransport, IDescriptorOwner
{
    private readonly int _fd;

    // The socket's family, and the client's address as the accept gave it.
    private readonly PeerAddress _peer;
    private readonly EventLoop _loop;
    private readonly ConnectionInput _input;
    private readonly ConnectionOutput _output;

    // Descriptor safety: no system call touches _fd once it is closed and its number may be someone else's.
    private DescriptorGuard _descriptor;

    private const int FlagFdClosed = TransportFlag;
    private const int FlagCloseWithReset = TransportFlag << 1;
    private const int FlagReceiveEnded = TransportFlag << 2;
    private const int FlagStartOnLoop = TransportFlag << 3;
    private const int FlagWatchingWritable = TransportFlag << 4;

    // The last read was large enough that the next one goes straight into the input's blocks (LinuxReceiver). A flag, not
    // a field: a bool would cost every connection 8 bytes, and it changes only when a connection's arrivals change size.
    private const int FlagScatter = TransportFlag << 5;

    // Writability is watched only from the first send the socket could not take: watched from the start, epoll would
    // report every new connection once more, writable, before anything had been sent. EPOLLPRI: urgent data waits (see
    // OnEvents).
    private const uint ReadEvents = LinuxNative.EpollIn | LinuxNative.EpollPri | LinuxNative.EpollRdHup | LinuxNative.EpollEdgeTriggered;

    private TaskCompletionSource? _receiveEndedSignal;

    public LinuxConnection(long id, int fd, PeerAddress peer, EventLoop loop, LinuxPipeSettings pipes, ConnectionDelegate pipeline, ServerContext context)
        : base(id, remoteEndPoint: null, pipeline, context)
    {
        _fd = fd;
        _peer = peer;
        _loop = loop;
        _input = new ConnectionInput(pipes.Input, this);
        _output = new ConnectionOutput(pipes.Output, this);
        Transport = this;
    }

    private protected override EndPoint? ResolveLocalEndPoint() => ReadAddress(peer: false);

    PipeReader IDuplexPipe.Input => _input;

    PipeWriter IDuplexPipe.Output => _output;

    internal override bool IsReceivePaused => _input.IsPaused;

    protected override Task ReceivingEnded
    {
        get
        {
            if (HasFlag(FlagReceiveEnded))
            {
                return Task.CompletedTask;
            }

            // Completed by EndReceiving, which decides where what waits on it (the rest of the closing sequence) runs.
            var signal = new TaskCompletionSource();
            Volatile.Write(ref _receiveEndedSignal, signal);
            if (HasFlag(FlagReceiveEnded))
            {
                signal.TrySetResult();
            }

            return signal.Task;
        }
    }

    /// <summary>Starts watching the socket. Data already waiting is reported at once.</summary>
    public void Register() =>
        _loop.Add(_fd, this, ReadEvents);

    // ---- Events from the loop -------------------------------------------------------------------------------

    public void OnEvents(uint events)
    {
        const uint Ended = LinuxNative.EpollRdHup | LinuxNative.EpollHup | LinuxNative.EpollErr;
        if ((events & (LinuxNative.EpollIn | LinuxNative.EpollPri | Ended)) != 0)
        {
            // With the client's FIN or an error in this same event, no later arrival will report the socket
            // again: read on until the socket says so itself. So too while urgent data waits (EPOLLPRI, until it is
            // read): a recv stops short at the urgent byte, so a short read does not mean the socket is empty, and the
            // bytes from the urgent one on would wait for the client's next arrival.
            Receive(untilEmpty: (events & (LinuxNative.EpollPri | Ended)) != 0);
        }

        if ((events & (LinuxNative.EpollOut | LinuxNative.EpollHup | LinuxNative.EpollErr)) != 0)
        {
            _output.OnWritable();
        }
    }

    /// <summary>
    /// Starts the accepted connection. With inline scheduling the handler's continuations run on the connection's loop,
    /// so it starts there too, up to its first wait (posted, when the accepting loop is another); otherwise the loop
    /// never runs handler code, and the connection starts on the thread pool.
    /// </summary>
    public void Start()
    {
        if (!Context.Options.InlineScheduling)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
        else if (_loop.IsLoopThread)
        {
            ((IThreadPoolWorkItem)this).Execute();
        }
        else
        {
            SetFlag(FlagStartOnLoop);
            _loop.Post(this);
        }
    }

    /// <summary>Posted to the loop: the connection starts, receiving resumes after backpressure, or a completed reader must drain.</summary>
    void IEventLoopWork.Execute()
    {
        if (HasFlag(FlagStartOnLoop) && ClearFlag(FlagStartOnLoop))
        {
            ((IThreadPoolWorkItem)this).Execute();
            return;
        }

        Receive(untilEmpty: true);
    }

    void IInputTransport.ResumeReceiving() => _loop.Post(this);

    /// <summary>
    /// A push queue's drain runs on this connection's loop, as its receives do: after the loop's current round when the
    /// caller is the loop (a handler running inline), posted to it otherwise.
    /// </summary>
    internal override void ScheduleOutbound(OutboundQueue drain) => _loop.Defer(drain);

    void IInputTransport.ReaderCompleted()
    {
        // Bytes left in the socket while reading was paused must be drained, or closing would send a reset. If
        // reading was not paused, the socket is empty and the next arrival brings its own event.
        if (_input.IsPaused)
        {
            _loop.Post(this);
        }
    }

    // ---- Receiving (on the loop's thread only) --------------------------------------------------------------

    /// <param name="untilEmpty">Read until the socket reports it has nothing more (see <see cref="LinuxReceiver.Receive"/>).</param>
    private void Receive(bool untilEmpty)
    {
        if (HasFlag(FlagReceiveEnded) || !_descriptor.TryEnter(this))
        {
            return;
        }

        try
        {
            // Once nobody reads, what arrives is read and dropped: closing with unread bytes would reset.
            var discard = _input.IsReaderCompleted;
            if (!discard && _input.IsPausedForTransport)
            {
                return;
            }

            var scattered = HasFlag(FlagScatter);
            var scatter = scattered;
            var outcome = LinuxReceiver.Receive(this, _fd, discard ? null : _input, _loop.ReceiveBuffer, untilEmpty, ref scatter, out var error);
            if (scatter != scattered)
            {
                _ = scatter ? SetFlag(FlagScatter) : ClearFlag(FlagScatter);
            }

            switch (outcome)
            {
                case ReceiveOutcome.ClientEnded:
                    // FIN: the client ended its side. The handler may still write; the connection stays open.
                    MarkFinReceived();
                    if (!discard)
                    {
                        _input.CompleteWriter(null);
                    }

                    EndReceiving();
                    break;
                case ReceiveOutcome.Failed:
                    // When discarding, the error changes nothing: nobody is reading, and the connection is on its way out.
                    if (!discard)
                    {
                        _input.CompleteWriter(ReceiveFailed(error));
                    }

                    EndReceiving();
                    break;
            }
        }
        finally
        {
            _descriptor.Exit(this);
        }
    }

    private void EndReceiving()
    {
        SetFlag(FlagReceiveEnded);
        if (Volatile.Read(ref _receiveEndedSignal) is not { } signal)
        {
            return;
        }

        // What waits is the end of the closing sequence: the close, the end line and the metrics. With inline
        // scheduling it runs here when this is the loop's thread (the client's FIN, read by the loop), saving a
        // thread-pool hop per connection; anywhere else (an abort, from a handler or the heartbeat) it is queued,
        // so a caller never runs another connection's ending under its feet.
        if (Context.Options.InlineScheduling && _loop.IsLoopThread)
        {
            signal.TrySetResult();
        }
        else
        {
            CompleteOnThreadPool(signal);
        }
    }

    private static void CompleteOnThreadPool(TaskCompletionSource signal) =>
        ThreadPool.UnsafeQueueUserWorkItem(static signal => signal.TrySetResult(), signal, preferLocal: false);

    // ---- Sending (under the output's lock, on the flushing thread or the loop's) ----------------------------

    /// <summary>The input's completion with a send's failure, run on the loop once the send has returned.</summary>
    private sealed class InputFailure(ConnectionInput input, Exception failure) : IEventLoopWork
    {
        public void Execute() => input.CompleteWriter(failure);
    }

    SendResult IOutputTransport.Send(in ReadOnlySequence<byte> data)
    {
        if (!_descriptor.TryEnter(this))
        {
            return new SendResult(0, false, SocketError.OperationAborted);
        }

        try
        {
            var result = LinuxSender.Send(_fd, data);
            if (result.WouldBlock && SetFlag(FlagWatchingWritable) && !_loop.TryModify(_fd, ReadEvents | LinuxNative.EpollOut))
            {
                // epoll could not take the change (out of memory): nothing would report the socket writable again.
                result = new SendResult(0, false, SocketError.NoBufferSpaceAvailable);
            }

            if (result.Error != SocketError.Success)
            {
                if (SendFailed(result.Error) is { } failure)
                {
                    // Not from inside the send: completing the input runs the handler's continuation (inline scheduling),
                    // which may end the handler and complete the output that this send holds, as a push queue's drainer
                    // or a flush, further down this same stack: a thread waiting on itself for ever (a relay whose member
                    // reset while its pushes drained froze an event loop). After the loop's current round instead.
                    _loop.Defer(new InputFailure(_input, failure));
                }
            }
            else if (!result.WouldBlock)
            {
                AddBytesSent(result.Bytes);
            }

            return result;
        }
        finally
        {
            _descriptor.Exit(this);
        }
    }

    void IOutputTransport.SendBlocked(bool blocked)
    {
        if (blocked)
        {
            BeginSend();
        }
        else
        {
            EndSend();
        }
    }

    // ---- Lifetime ---------------------------------------------------------------------------------------------

    protected override void StartTransport()
    {
        // Registered when accepted: bytes that arrive before the handler starts are already being read.
    }

    protected override ValueTask CompleteApplicationPipesAsync()
    {
        _output.Complete();
        _input.Complete();
        return ValueTask.CompletedTask;
    }

    protected override async Task FinishSendingAsync()
    {
        await _output.DrainAsync().ConfigureAwait(false);

        // After the client's FIN the close that follows sends ours: the socket is read to its end, so the close
        // cannot turn into a reset, and a separate shutdown would be one more system call per connection.
        if (!IsAborted && !FinReceived && _descriptor.TryEnter(this))
        {
            try
            {
                LinuxNative.shutdown(_fd, LinuxNative.ShutWrite);
            }
            finally
            {
                _descriptor.Exit(this);
            }
        }
    }

    protected override bool HasBytesWaiting()
    {
        if (!_descriptor.TryEnter(this))
        {
            return false;
        }

        try
        {
            return LinuxReceiver.HasBytesWaiting(_fd);
        }
        finally
        {
            _descriptor.Exit(this);
        }
    }

    protected override Task CloseTransportAsync()
    {
        _descriptor.RequestClose(this);
        return Task.CompletedTask;
    }

    protected override void StopLingering()
    {
        // The client still has not ended its side: the wait ends on the thread pool, never on the heartbeat's thread.
        if (Volatile.Read(ref _receiveEndedSignal) is { } signal)
        {
            CompleteOnThreadPool(signal);
        }
    }

    protected override void AbortTransport()
    {
        SetFlag(FlagCloseWithReset);
        _descriptor.RequestClose(this);
        _input.CompleteWriter(AbortedError());
        _output.TransportGone();
        EndReceiving();
    }

    unsafe void IDescriptorOwner.CloseDescriptor()
    {
        if (!SetFlag(FlagFdClosed))
        {
            return;
        }

        // Forgotten by the loop before the number can be reused by the kernel.
        _loop.Remove(_fd, this);
        if (HasFlag(FlagCloseWithReset))
        {
            var linger = new LinuxNative.Linger { OnOff = 1, Seconds = 0 };
            LinuxNative.setsockopt(_fd, LinuxNative.SolSocket, LinuxNative.SoLinger, &linger, sizeof(LinuxNative.Linger));
        }

        LinuxNative.close(_fd);
    }

    /// <summary>An integer option of the socket, as the kernel reports it; null once the socket is closed.</summary>
    internal unsafe int? ReadSocketOption(int level, int name)
    {
        if (!_descriptor.TryEnter(this))
        {
            return null;
        }

        try
        {
            int value;
            var length = sizeof(int);
            return LinuxNative.getsockopt(_fd, level, name, &value, &length) == 0 ? value : null;
        }
        finally
        {
            _descriptor.Exit(this);
        }
    }

    private EndPoint? ReadAddress(bool peer)
    {
        if (!_descriptor.TryEnter(this))
        {
            return null;
        }

        try
        {
            return SocketAddresses.Read(_fd, _peer.Family, peer);
        }
        finally
        {
            _descriptor.Exit(this);
        }
    }

    /// <summary>
    /// The peer's address, made an endpoint the first time it is asked for (most connections never need it): as the
    /// accept gave it, or, for a Unix socket, read from the socket.
    /// </summary>
    private protected override EndPoint? ResolveRemoteEndPoint() => _peer.HasValue ? _peer.ToEndPoint() : ReadAddress(peer: true);
}
