using System.Diagnostics;

namespace Sockeye.Cli.Bench;

/// <summary>
/// The echo workload on one connection: keeps <c>depth</c> messages of <c>size</c> bytes in flight, checks every
/// echoed byte, and times each message from when it was queued until its last byte came back.
/// </summary>
/// <remarks>
/// The connection's stream is the payload run from its own starting point: sent bytes and echoed bytes are
/// positions in that one stream, so the only state per message is a timestamp in a ring of <c>depth</c>.
/// Messages freed in one read go out together in one send.
/// </remarks>
internal sealed class EchoConnection : LoadConnection
{
    private readonly int _size;
    private readonly long[] _queuedAt;
    private readonly long _start;
    private int _oldest;
    private int _inFlight;
    private long _queued;
    private long _sent;
    private long _received;

    public EchoConnection(LoadLoop loop, int index, int size, int depth)
        : base(loop, index)
    {
        _size = size;
        _queuedAt = new long[depth];
        _start = Payload.StartFor(index);
    }

    protected override bool IsBusy => _inFlight > 0;

    public override void Begin() => Loop.RequestOpen(this);

    public override void OnDrain()
    {
        if (_inFlight == 0)
        {
            Finish();
        }
    }

    protected override void OnConnected()
    {
        Queue(_queuedAt.Length, Stopwatch.GetTimestamp());
        Flush();
    }

    protected override void OnWritable() => Flush();

    protected override void OnEndOfStream() =>
        Fail(_inFlight > 0 ? "the server closed the connection with messages unanswered" : "the server closed the connection");

    /// <summary>Checks echoed bytes, completes the messages they finish, and queues as many new ones.</summary>
    protected override bool OnReceived(ReadOnlySpan<byte> echoed)
    {
        if (_received + echoed.Length > _sent)
        {
            Fail("the server sent more bytes than it was sent");
            return false;
        }

        if (!Payload.Matches(_start + _received, echoed))
        {
            Fail($"echoed bytes differ from those sent, within bytes {_received}-{_received + echoed.Length} of the stream");
            return false;
        }

        var completedBefore = _received / _size;
        _received += echoed.Length;
        var completed = (int)((_received / _size) - completedBefore);
        if (completed == 0)
        {
            return true;
        }

        var now = Stopwatch.GetTimestamp();
        var record = Loop.Measuring;
        for (var i = 0; i < completed; i++)
        {
            Stats.Message(now - _queuedAt[_oldest], record);
            _oldest = _oldest + 1 == _queuedAt.Length ? 0 : _oldest + 1;
        }

        _inFlight -= completed;
        if (Loop.Draining)
        {
            if (_inFlight == 0)
            {
                Finish();
                return false;
            }

            return true;
        }

        Queue(completed, now);
        return Flush();
    }

    private void Queue(int count, long now)
    {
        for (var i = 0; i < count; i++)
        {
            var slot = _oldest + _inFlight;
            _queuedAt[slot >= _queuedAt.Length ? slot - _queuedAt.Length : slot] = now;
            _inFlight++;
        }

        _queued += (long)count * _size;
    }

    /// <summary>Sends what is queued until done or the socket buffer is full (edge-triggered epoll says when it drains).</summary>
    private bool Flush()
    {
        while (_sent < _queued)
        {
            var sent = Send(Payload.At(_start + _sent, _queued - _sent));
            if (sent <= 0)
            {
                return sent == 0;
            }

            _sent += sent;
        }

        return true;
    }
}
