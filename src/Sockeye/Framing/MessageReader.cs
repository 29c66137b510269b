using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Sockeye.Transport;

namespace Sockeye.Framing;

/// <summary>
/// Reads messages from a pipe through a protocol's <see cref="IMessageReader{TMessage}"/> (Bedrock's protocol reader,
/// with two additions): it enforces the maximum message size, and it hands the reader the position its last search
/// stopped at, so that however a message is split across reads, each byte is searched once.
/// </summary>
/// <remarks>
/// A message points into the pipe's buffer, valid until the next read: nothing is copied. For a connection it
/// also calls the connection's message hooks, stops between messages when the server asks the connection to
/// close, and ends the connection when the peer breaks the protocol.
/// </remarks>
/// <typeparam name="TMessage">What the protocol's reader makes of a message.</typeparam>
internal sealed class MessageReader<TMessage> : IAsyncEnumerator<TMessage>
{
    /// <summary>
    /// Replies queued past this many bytes are flushed before the next message is read, batch or no batch: the size of
    /// the send buffer by default, so one flush fills it.
    /// </summary>
    internal const int BatchFlushThreshold = 64 * 1024;

    /// <summary>
    /// Messages read ahead are released to the pipe together once they add up to this many bytes, so that the input
    /// sees them consumed about as soon as it would have one by one: a paused input resumes when the reader has
    /// released enough of what it holds, and a handler that awaits (a flush to a slow client) must not hold more of
    /// it than it has not yet read.
    /// </summary>
    internal const int ReadAheadRelease = 16 * 1024;

    private readonly PipeReader _input;
    private readonly IMessageReader<TMessage> _protocol;
    private readonly long _maxMessageSize;
    private readonly long _bufferLimit;
    private readonly Connection? _connection;
    private readonly PipeWriter? _flushBeforeWaiting;
    private readonly CancellationToken _cancellationToken;

    // A message that ends only with the stream has no boundary to trickle towards: the minimum data rate is not for it.
    private readonly bool _rateApplies;
    private CancellationTokenSource? _idleCancellation;

    // The message handed out, and the buffer it lies in: the pipe is advanced past it at the next read.
    private ReadOnlySequence<byte> _buffer;
    private TMessage? _current;
    private ProtocolException? _invalidMessage;
    private SequencePosition _consumed;
    private bool _holding;

    private long _buffered;
    private bool _completed;
    private bool _mustWait;
    private bool _messageStarted;

    // A message has been handed out: once the connection is asked to close, the reader stops between messages.
    private bool _delivered;

    // A protocol error found while reading ahead, thrown by the next step that may wait (its replies are flushed first).
    private ProtocolException? _aheadError;

    // The bytes of the messages read ahead and not yet released to the pipe.
    private long _heldAhead;

    // Where the protocol reader's search resumes. A pipe keeps unconsumed segments between reads, so while the buffer starts
    // where it did, the position itself is still good; a reader that rebuilds its segments is found by offset.
    private bool _hasResume;
    private SequencePosition _resumeBufferStart;
    private SequencePosition _resume;
    private long _resumeOffset;

    /// <summary>Creates a reader.</summary>
    /// <param name="input">Where the bytes come from.</param>
    /// <param name="protocol">The message format.</param>
    /// <param name="maxMessageSize">The largest message to accept.</param>
    /// <param name="connection">The connection the pipe belongs to, if any: for its hooks, its close request and its end reason.</param>
    /// <param name="flushBeforeWaiting">
    /// A writer to flush once no whole message is left (before waiting for input, and at the end of the stream), so
    /// replies queued while buffered messages were read go out together; and whenever more than
    /// <see cref="BatchFlushThreshold"/> bytes are queued.
    /// </param>
    /// <param name="cancellationToken">Cancels a wait for input.</param>
    public MessageReader(
        PipeReader input,
        IMessageReader<TMessage> protocol,
        long maxMessageSize,
        Connection? connection = null,
        PipeWriter? flushBeforeWaiting = null,
        CancellationToken cancellationToken = default)
    {
        _input = input;
        _protocol = protocol;
        _maxMessageSize = maxMessageSize;
        _connection = connection;
        _flushBeforeWaiting = flushBeforeWaiting;
        _cancellationToken = cancellationToken;
        _rateApplies = protocol is not MessageFramer { MessageEndsWithStream: true };

        // A connection's input pipe stops taking bytes once it holds a maximum message plus the framing allowance:
        // a frame that is not whole by then never will be, whatever the reader's own maximum says. Over any other
        // pipe the reader's maximum bounds what is buffered the same way.
        _bufferLimit = DelimiterSearch.AddSaturating(connection?.MaxMessageSize ?? maxMessageSize, SocketServerOptions.FramingAllowance);
    }

    /// <summary>A reader of <paramref name="connection"/>'s input, with the protocol's maximum or else the connection's.</summary>
    public static MessageReader<TMessage> Create(Connection connection, IMessageReader<TMessage> protocol, PipeWriter? flushBeforeWaiting = null, CancellationToken cancellationToken = default) =>
        new(connection.Transport.Input, protocol, protocol.MaxMessageSize ?? connection.MaxMessageSize, connection, flushBeforeWaiting, cancellationToken);

    /// <summary>
    /// Whether a message the protocol's reader skips (<see cref="ProtocolException.MessageSkipped"/>) is reported as
    /// <see cref="MessageReadStatus.Invalid"/>, and reading goes on after it, rather than thrown with the connection
    /// ended. Off by default: a loop over <c>ReadMessagesAsync</c> ends at the first protocol error. Set before the
    /// first read.
    /// </summary>
    public bool SkipInvalidMessages { get; set; }

    /// <summary>The last message read, valid until the next read.</summary>
    public TMessage Current => _current!;

    /// <summary>
    /// After <see cref="MessageReadStatus.Invalid"/> (or <see cref="MoveNextAsync"/> returned <see langword="true"/> for
    /// it), what was wrong with the message skipped; <see langword="null"/> after a message.
    /// </summary>
    public ProtocolException? InvalidMessage => _invalidMessage;

    /// <summary>
    /// The whole frame of the last message read: the message with its framing; after
    /// <see cref="MessageReadStatus.Truncated"/>, what arrived of the last frame.
    /// </summary>
    public ReadOnlySequence<byte> CurrentFrame => _holding ? _buffer.Slice(_buffer.Start, _consumed) : default;

    /// <summary>Reads the next message.</summary>
    /// <exception cref="ProtocolException">
    /// The peer sent a message over the maximum, or a malformed frame (one the protocol's reader skipped too, unless
    /// the reader was made to skip invalid messages).
    /// </exception>
    /// <exception cref="ConnectionAbortedException">The connection was aborted while waiting.</exception>
    public ValueTask<MessageReadStatus> ReadAsync() =>
        _holding && TryReadAhead(out var status) ? new(status) : ReadOrWaitAsync();

    /// <summary>
    /// Parses the next message from the rest of the buffer the last message came from, when it holds one: a batch of
    /// pipelined messages is read with one read of the pipe and one advance, not one of each per message, and without
    /// a state machine. Declines (<see langword="false"/>, nothing changed) when the batch's replies must be flushed
    /// first, when the connection is to stop, at the end of the stream, or once those read ahead add up to
    /// <see cref="ReadAheadRelease"/> bytes; when the rest holds no whole message it
    /// leaves the reader waiting for more, and when it breaks the protocol it leaves the error to rethrow. What it finds
    /// is a message, or one skipped as invalid: the rest is not the stream's end.
    /// </summary>
    private bool TryReadAhead(out MessageReadStatus status)
    {
        status = default;
        var rest = _buffer.Slice(_consumed);
        var held = _heldAhead + (_buffer.Length - rest.Length);
        if (rest.IsEmpty || held >= ReadAheadRelease || _completed || BatchIsFull || MustStop)
        {
            return false;
        }

        // The pipe is not advanced past the messages before: the read is still outstanding, and whatever ends it (the
        // next message's release, a wait, an error) advances the pipe past all of them at once.
        LetGo();
        _buffered = rest.Length;
        try
        {
            if (TryParse(new ReadResult(rest, isCanceled: false, isCompleted: false)) is { } parsed)
            {
                _heldAhead = held;
                status = parsed;
                return true;
            }
        }
        catch (ProtocolException error)
        {
            _aheadError = error;
        }

        // The parse advanced the pipe: to wait for the rest of a message, or to fail.
        _heldAhead = 0;
        return false;
    }

    /// <summary>The replies queued past <see cref="BatchFlushThreshold"/>: they are flushed before the next message is read.</summary>
    private bool BatchIsFull => _flushBeforeWaiting is { CanGetUnflushedBytes: true } batch && batch.UnflushedBytes >= BatchFlushThreshold;

    /// <summary>The connection was closed, or asked to close after a message was handed out: no further message is read.</summary>
    private bool MustStop => _connection is { } connection && (connection.IsClosing || (_delivered && connection.IsCloseRequested));

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<MessageReadStatus> ReadOrWaitAsync()
    {
        if (_aheadError is { } aheadError)
        {
            _aheadError = null;
            await FailAsync(aheadError).ConfigureAwait(false);
            throw aheadError;
        }

        Release();
        if (BatchIsFull)
        {
            // A batch whose replies outgrow the send buffer is sent as it goes: the send buffer's backpressure
            // applies, and a few bytes of requests can never make the server hold their replies without bound.
            await _flushBeforeWaiting!.FlushAsync(_cancellationToken).ConfigureAwait(false);
        }

        if (MustStop)
        {
            // Closed (Connection.Close): no further message, even one already here. Asked to close (the server's stop):
            // the handler ends between messages, also when the client keeps its input full; the message in hand was the
            // last. A new connection still gets the first message that came with it (see RequestCloseWhenReady).
            await FlushQueuedAsync().ConfigureAwait(false);
            return MessageReadStatus.Closing;
        }

        while (true)
        {
            if (_completed && _buffered == 0)
            {
                await FlushQueuedAsync().ConfigureAwait(false);
                return MessageReadStatus.End;
            }

            ReadResult result;
            if (_mustWait || !_input.TryRead(out result))
            {
                // Replies queued while buffered messages were read go out together, once the reader may have to wait:
                // it has no whole message left. Bytes left after the last message are read again at once.
                if (_mustWait || _buffered == 0)
                {
                    await FlushQueuedAsync().ConfigureAwait(false);
                }

                if (_buffered > 0 || _connection is null)
                {
                    // A message is under way: finish it, even if the server is stopping.
                    result = await _input.ReadAsync(_cancellationToken).ConfigureAwait(false);
                }
                else if (_input is ConnectionInput input && ReferenceEquals(input, _connection.Transport.Input))
                {
                    // Between messages, waiting on the connection's own input: a request to close ends the wait.
                    result = await input.ReadUntilCloseRequestedAsync(_connection, _cancellationToken).ConfigureAwait(false);
                    if (result.IsCanceled && _connection.IsCloseRequested)
                    {
                        input.AdvanceTo(result.Buffer.Start);
                        return MessageReadStatus.Closing;
                    }
                }
                else
                {
                    var closing = _connection.CloseRequested;
                    if (closing.IsCancellationRequested)
                    {
                        return MessageReadStatus.Closing;
                    }

                    try
                    {
                        result = await _input.ReadAsync(IdleToken(closing)).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (closing.IsCancellationRequested && !_cancellationToken.IsCancellationRequested)
                    {
                        return MessageReadStatus.Closing;
                    }
                }
            }

            MessageReadStatus? parsed;
            try
            {
                parsed = TryParse(result);
            }
            catch (ProtocolException error)
            {
                await FailAsync(error).ConfigureAwait(false);
                throw;
            }

            if (parsed is { } status)
            {
                if (status == MessageReadStatus.End)
                {
                    await FlushQueuedAsync().ConfigureAwait(false);
                }

                return status;
            }
        }
    }

    /// <summary>
    /// Reads the next message; <see langword="true"/> also for a message skipped as invalid, when the reader was made to
    /// skip them (see <see cref="InvalidMessage"/>).
    /// </summary>
    /// <exception cref="ProtocolException">The peer sent a message over the maximum, a malformed frame, or ended the stream in the middle of one.</exception>
    public ValueTask<bool> MoveNextAsync() =>
        _holding && TryReadAhead(out _) ? new(true) : MoveNextOrWaitAsync();

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> MoveNextOrWaitAsync()
    {
        var status = await ReadOrWaitAsync().ConfigureAwait(false);
        if (status == MessageReadStatus.Truncated)
        {
            var error = ProtocolException.Truncated(CurrentFrame.Length);
            Release();
            Fail(error);
            throw error;
        }

        return status is MessageReadStatus.Message or MessageReadStatus.Invalid;
    }

    /// <summary>Advances the pipe past the last message, and leaves the rest of the input to whoever reads next.</summary>
    public ValueTask DisposeAsync()
    {
        Release();
        _idleCancellation?.Dispose();
        _idleCancellation = null;
        return ValueTask.CompletedTask;
    }

    /// <summary>Flushes the replies written since the last flush, if the reader was given a writer to flush.</summary>
    private ValueTask<FlushResult> FlushQueuedAsync() =>
        _flushBeforeWaiting is { } output && (!output.CanGetUnflushedBytes || output.UnflushedBytes > 0)
            ? output.FlushAsync(_cancellationToken)
            : default;

    /// <summary>Runs the protocol's reader over a read's buffer; <see langword="null"/> when it holds no whole message yet.</summary>
    private MessageReadStatus? TryParse(in ReadResult result)
    {
        var buffer = result.Buffer;
        _mustWait = false;
        _completed = result.IsCompleted;
        if (result.IsCanceled)
        {
            _input.AdvanceTo(buffer.Start, buffer.End);
            throw new ConnectionAbortedException("Reading was canceled: the connection was aborted.");
        }

        if (!buffer.IsEmpty && !_messageStarted)
        {
            _messageStarted = true;
            if (_rateApplies)
            {
                _connection?.OnMessageStarted();
            }
        }

        var consumed = buffer.Start;
        var examined = ResumePosition(buffer);
        TMessage? message;
        try
        {
            if (_protocol.TryParseMessage(buffer, _maxMessageSize, ref consumed, ref examined, out message))
            {
                var frameLength = buffer.Slice(buffer.Start, consumed).Length;
                if (frameLength == 0)
                {
                    // Every frame takes at least a byte; one that takes none would be found again, for ever.
                    throw new InvalidOperationException($"{_protocol.GetType().Name} returned a message but consumed no bytes.");
                }

                CheckSize(message, frameLength);
                return Hold(buffer, consumed, message, MessageReadStatus.Message);
            }

            if (result.IsCompleted && !buffer.IsEmpty && _protocol.TryParseFinalMessage(buffer, _maxMessageSize, out message))
            {
                CheckSize(message, buffer.Length);
                return Hold(buffer, buffer.End, message, MessageReadStatus.Message);
            }

            if (!result.IsCompleted && buffer.Length >= _bufferLimit)
            {
                throw ProtocolException.MessageTooLarge(_maxMessageSize);
            }
        }
        catch (ProtocolException error) when (SkipInvalidMessages && error.MessageSkipped && buffer.Slice(buffer.Start, consumed).Length > 0)
        {
            // The reader consumed the bad message's whole frame, so the next one starts in step: the caller decides
            // whether to go on. One that did not move consumed would be found again, for ever: that is a plain error.
            // (A consumed position outside the buffer throws in this filter, which makes it false: a plain error too.)
            _invalidMessage = error;
            return Hold(buffer, consumed, default, MessageReadStatus.Invalid);
        }
        catch (ProtocolException)
        {
            // The caller ends the connection as the error says (Fail), once the queued replies have gone out.
            _input.AdvanceTo(buffer.Start, buffer.End);
            _buffered = buffer.Length;
            throw;
        }

        if (result.IsCompleted)
        {
            if (buffer.IsEmpty)
            {
                _input.AdvanceTo(buffer.End);
                _buffered = 0;
                return MessageReadStatus.End;
            }

            return Hold(buffer, buffer.End, default, MessageReadStatus.Truncated);
        }

        _hasResume = true;
        _resumeBufferStart = buffer.Start;
        _resume = examined;
        _resumeOffset = buffer.Slice(buffer.Start, examined).Length;
        _input.AdvanceTo(buffer.Start, buffer.End);
        _buffered = buffer.Length;
        _mustWait = true;
        return null;
    }

    private SequencePosition ResumePosition(in ReadOnlySequence<byte> buffer)
    {
        if (!_hasResume)
        {
            return buffer.Start;
        }

        return buffer.Start.Equals(_resumeBufferStart) ? _resume : buffer.GetPosition(_resumeOffset);
    }

    /// <summary>
    /// Keeps the maximum for readers that do not: the built-in ones never return a message over it, a user's might.
    /// A byte message is measured itself; any other by its frame, which may carry framing up to the allowance.
    /// </summary>
    private void CheckSize(TMessage message, long frameLength)
    {
        var over = typeof(TMessage) == typeof(ReadOnlySequence<byte>)
            ? Unsafe.As<TMessage, ReadOnlySequence<byte>>(ref message).Length > _maxMessageSize
            : frameLength > DelimiterSearch.AddSaturating(_maxMessageSize, SocketServerOptions.FramingAllowance);
        if (over)
        {
            throw ProtocolException.MessageTooLarge(_maxMessageSize);
        }
    }

    private MessageReadStatus Hold(in ReadOnlySequence<byte> buffer, SequencePosition consumed, TMessage? message, MessageReadStatus status)
    {
        _buffer = buffer;
        _consumed = consumed;
        _current = message;
        _holding = true;
        _hasResume = false;
        if (status is MessageReadStatus.Message or MessageReadStatus.Invalid)
        {
            _messageStarted = false;
            _delivered = true;
            _connection?.OnMessageReceived();
        }

        return status;
    }

    private void Release()
    {
        if (!_holding)
        {
            return;
        }

        _buffered = _buffer.Slice(_consumed).Length;
        _input.AdvanceTo(_consumed);
        _heldAhead = 0;
        _buffer = default;
        LetGo();
    }

    /// <summary>Drops the message handed out; the pipe is advanced by whoever calls this, now or later.</summary>
    private void LetGo()
    {
        _holding = false;
        _current = default;
        _invalidMessage = null;
    }

    /// <summary>
    /// The client broke the protocol: the replies to its messages before, still batched, go out first (a message too
    /// large ends the connection with a reset, which would drop them unsent), then the connection ends as the error says.
    /// </summary>
    private async ValueTask FailAsync(ProtocolException error)
    {
        if (_flushBeforeWaiting is { } output)
        {
            await output.FlushBeforeFailingAsync().ConfigureAwait(false);
        }

        Fail(error);
    }

    /// <summary>Ends the connection as the error says: at once for a message too large, after the handler for the rest.</summary>
    private void Fail(ProtocolException error)
    {
        if (error.EndReason == ConnectionEndReason.MessageTooLarge)
        {
            _connection?.Abort(ConnectionEndReason.MessageTooLarge);
        }
        else
        {
            _connection?.TrySetEndReason(ConnectionEndReason.ProtocolError);
        }
    }

    private CancellationToken IdleToken(CancellationToken closing)
    {
        if (!_cancellationToken.CanBeCanceled)
        {
            return closing;
        }

        _idleCancellation ??= CancellationTokenSource.CreateLinkedTokenSource(_cancellationToken, closing);
        return _idleCancellation.Token;
    }
}
