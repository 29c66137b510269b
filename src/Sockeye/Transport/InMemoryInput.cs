using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;

namespace Sockeye.Transport;

/// <summary>
/// A <see cref="ConnectionInput"/> fed by an in-memory peer instead of a socket: the peer's <see cref="Writer"/>
/// plays the transport. Each direction of the testing kit's connections is one: the handler reads what the client sends
/// from one, and the client reads what the handler sends from another. The reader gets the same input, with the same
/// pause and resume, as over TCP: a flush hands the input at most what it has room for and, once the input is full,
/// waits until the reader has read half of it, as a sender waits on a full receive window.
/// </summary>
internal sealed class InMemoryInput : IInputTransport
{
    /// <summary>What a client of the testing kit has not read yet, before a send to it has to wait: a socket's buffers, roughly.</summary>
    public const long ClientWindow = 64 * 1024;

    // The blocks of every in-memory input that no server owns: a pool per connection would keep its blocks for nothing.
    private static readonly PinnedBlockMemoryPool s_pool = new();
    private static readonly PipeSettings s_clientSide = new(s_pool, ClientWindow, inlineContinuations: false);

    private readonly Lock _gate = new();
    private readonly InputWriter _writer;
    private TaskCompletionSource? _waiter;
    private bool _resumed;
    private bool _flushCanceled;
    private volatile bool _reset;
    private ConnectionEndReason _resetReason;

    public InMemoryInput(PipeSettings settings)
    {
        Reader = new ConnectionInput(settings, this);
        _writer = new InputWriter(this);
    }

    /// <summary>The reader's side: the handler's input, or what a client reads.</summary>
    public ConnectionInput Reader { get; }

    /// <summary>The sender's side: what it flushes, the reader reads.</summary>
    public PipeWriter Writer => _writer;

    /// <summary>
    /// What a client of the testing kit reads: the handler's bytes, within <see cref="ClientWindow"/>. A reset
    /// (<see cref="ResetByServer"/>) reaches it after the bytes that arrived before it, as a socket reports one.
    /// </summary>
    public static InMemoryInput ToClient() => new(s_clientSide);

    /// <summary>The handler's input of a connection that no server owns, bounded by <paramref name="receiveBufferSize"/>.</summary>
    public static InMemoryInput ToHandler(long receiveBufferSize) => new(new PipeSettings(s_pool, receiveBufferSize, inlineContinuations: false));

    /// <summary>
    /// The server resets the connection, as a transport's abort does: the first bytes of <paramref name="last"/> (what
    /// the handler had flushed and the transport had not handed over yet) that the reader's window has room for arrive
    /// as a socket's last send would, and everything that arrived before stays readable. Then the reader's next read
    /// throws a <see cref="ConnectionResetException"/> that says why, as a socket's client sees a reset (an
    /// <see cref="IOException"/> over a <see cref="SocketException"/>, <see cref="SocketError.ConnectionReset"/>).
    /// What the writer had not flushed, and anything it writes from now on, goes nowhere. Nothing changes once the
    /// writer has completed: the end of the stream was sent before the reset. The first call counts; from any thread
    /// without <paramref name="last"/>, and with it only from the writer's (it appends them as a flush would).
    /// </summary>
    public void ResetByServer(ConnectionEndReason reason, ReadOnlySequence<byte> last = default)
    {
        lock (_gate)
        {
            if (_reset || _writer.IsCompleted)
            {
                return;
            }

            _resetReason = reason;
            _reset = true;
        }

        var room = (long)Reader.ReceiveRoom;
        foreach (var segment in last)
        {
            if (room <= 0)
            {
                break;
            }

            var count = (int)Math.Min(segment.Length, room);
            Reader.Append(segment.Span[..count]);
            room -= count;
        }

        Reader.CompleteWriter(ResetError());

        // A flush that waits for room gives up: nothing more goes through.
        Wake(cancel: false);
    }

    /// <summary>
    /// The error a client of the testing kit gets from the server's reset (<see cref="ResetByServer"/>), as a socket's
    /// client does: from a read, after the bytes that arrived before it, and from every send once the reset is in.
    /// None before the reset.
    /// </summary>
    public ConnectionResetException? ResetError() => _reset
        ? new ConnectionResetException(
            $"The server reset the connection ({_resetReason}).", new SocketException((int)SocketError.ConnectionReset))
        : null;

    void IInputTransport.ResumeReceiving() => Wake(cancel: false);

    void IInputTransport.ReaderCompleted() => Wake(cancel: false);

    /// <summary>
    /// Wakes a flush that waits for room: the input resumed or its reader completed, or the flush is canceled (sticky
    /// until a flush takes it). A wake with nobody waiting is kept for the next wait.
    /// </summary>
    private void Wake(bool cancel)
    {
        TaskCompletionSource? waiter;
        lock (_gate)
        {
            waiter = _waiter;
            _waiter = null;
            if (cancel)
            {
                _flushCanceled = true;
            }
            else if (waiter is null)
            {
                _resumed = true;
            }
        }

        waiter?.TrySetResult();
    }

    /// <summary>Waits until the input resumes, its reader completes, or the flush is canceled.</summary>
    private Task WaitForRoomAsync()
    {
        lock (_gate)
        {
            if (_resumed)
            {
                _resumed = false;
                return Task.CompletedTask;
            }

            _waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _waiter.Task;
        }
    }

    private bool TakeCancel()
    {
        lock (_gate)
        {
            var canceled = _flushCanceled;
            _flushCanceled = false;
            return canceled;
        }
    }

    private sealed class InputWriter(InMemoryInput owner) : PipeWriter
    {
        private readonly ArrayBufferWriter<byte> _unflushed = new();
        private bool _paused;
        private volatile bool _flushing;
        private volatile bool _completed;

        public bool IsCompleted => _completed;

        public override bool CanGetUnflushedBytes => true;

        public override long UnflushedBytes => _unflushed.WrittenCount;

        public override void Advance(int bytes) => _unflushed.Advance(bytes);

        public override Memory<byte> GetMemory(int sizeHint = 0) => _unflushed.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => _unflushed.GetSpan(sizeHint);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            if (_completed)
            {
                throw new InvalidOperationException("Writing is not allowed after the writer was completed.");
            }

            if (owner.TakeCancel())
            {
                // Canceled before it began (CancelPendingFlush with no flush waiting): what was written stays for the next.
                return new(new FlushResult(isCanceled: true, isCompleted: false));
            }

            if (owner.Reader.IsReaderCompleted || owner._reset)
            {
                // Nobody reads any more, or the connection was reset: what was written goes nowhere, as over a socket.
                _unflushed.ResetWrittenCount();
                return new(new FlushResult(isCanceled: false, isCompleted: true));
            }

            return _unflushed.WrittenCount == 0 && !_paused
                ? new(new FlushResult(isCanceled: false, isCompleted: false))
                : new(SendAsync(cancellationToken));
        }

        public override void CancelPendingFlush() => owner.Wake(cancel: true);

        public override void Complete(Exception? exception = null)
        {
            if (_completed)
            {
                return;
            }

            _completed = true;
            var input = owner.Reader;
            if (_flushing)
            {
                // A flush waits for room: it gives up (the wake below), and its bytes go no further, as a reset's would.
                owner.Wake(cancel: false);
            }
            else if (_unflushed.WrittenCount > 0 && !input.IsReaderCompleted && !owner._reset)
            {
                // Written and not flushed: it still reaches the reader, as a pipe's writer commits it on completing.
                input.Append(_unflushed.WrittenSpan);
                _unflushed.Clear();
            }

            input.CompleteWriter(exception);
        }

        /// <summary>Hands the input what was written, as much at a time as it has room for, waiting while it is full.</summary>
        private async Task<FlushResult> SendAsync(CancellationToken cancellationToken)
        {
            var input = owner.Reader;
            var sent = 0;
            _flushing = true;
            try
            {
                while (true)
                {
                    if (_paused)
                    {
                        using (cancellationToken.UnsafeRegister(static state => ((InMemoryInput)state!).Wake(cancel: true), owner))
                        {
                            await owner.WaitForRoomAsync().ConfigureAwait(false);
                        }

                        if (_completed || input.IsReaderCompleted || owner._reset)
                        {
                            return new FlushResult(isCanceled: false, isCompleted: true);
                        }

                        if (owner.TakeCancel())
                        {
                            // Still paused: what is left goes with the next flush.
                            return new FlushResult(isCanceled: true, isCompleted: false);
                        }

                        _paused = false;
                    }

                    var rest = _unflushed.WrittenCount - sent;
                    if (rest == 0)
                    {
                        return new FlushResult(isCanceled: false, isCompleted: input.IsReaderCompleted);
                    }

                    var count = Math.Min(rest, input.ReceiveRoom);
                    _paused = !input.Append(_unflushed.WrittenSpan.Slice(sent, count));
                    sent += count;
                }
            }
            finally
            {
                Consume(sent);
                _flushing = false;
            }
        }

        /// <summary>Drops the first <paramref name="count"/> written bytes; what follows them stays for the next flush.</summary>
        private void Consume(int count)
        {
            if (count == _unflushed.WrittenCount)
            {
                _unflushed.ResetWrittenCount();
                return;
            }

            var rest = _unflushed.WrittenSpan[count..].ToArray();
            _unflushed.ResetWrittenCount();
            _unflushed.Write(rest);
        }
    }
}
