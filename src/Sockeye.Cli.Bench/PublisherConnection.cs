using System.Diagnostics;

namespace Sockeye.Cli.Bench;

/// <summary>
/// A publisher of the broadcast workload: once every subscriber is connected, it queues numbered messages as far as
/// its window allows (see <see cref="BroadcastState"/>), as many as the window frees in one send. What the server
/// relays to it from other publishers is read and dropped.
/// </summary>
/// <remarks>
/// A window held shut for <see cref="LateJoinWait"/> only by subscribers that have received nothing from this publisher
/// lets one more message go, and one more each <see cref="LateJoinWait"/> after that: a subscriber the server joined
/// after the first window went out picks the stream up from it (a late join), rather than waiting for a window that
/// will never reach it. Everything sent is still checked in order from a subscriber's first message on.
/// </remarks>
internal sealed class PublisherConnection : LoadConnection
{
    private readonly BroadcastState _state;
    private readonly int _publisher;
    private readonly int _size;
    private readonly byte[] _buffer;
    private bool _opened;
    private bool _connected;
    private int _queued;
    private int _sent;
    private long _next;
    private long _delivered = -1;
    private long _heldSince;

    /// <summary>How long a window held shut only by subscribers that have received nothing waits before one more message goes.</summary>
    public static TimeSpan LateJoinWait { get; } = TimeSpan.FromMilliseconds(100);

    public PublisherConnection(LoadLoop loop, int index, int publisher, BroadcastState state, int size)
        : base(loop, index)
    {
        _state = state;
        _publisher = publisher;
        _size = size;
        _buffer = GC.AllocateUninitializedArray<byte>(size * Math.Max(2, state.Window));
    }

    public override bool Polled => true;

    protected override bool IsBusy => _sent < _queued || _delivered < _next - 1;

    public override void Begin()
    {
    }

    public override void OnPoll()
    {
        if (IsFinished)
        {
            return;
        }

        if (!_opened)
        {
            if (_state.PublishersMayStart && !Loop.Draining)
            {
                _opened = true;
                Loop.RequestOpen(this);
            }

            return;
        }

        if (!_connected)
        {
            return;
        }

        if (Loop.Draining)
        {
            // Done once everything it sent has reached every reading subscriber: closing earlier could cut the tail.
            _delivered = _state.DeliveredToAll(_publisher);
            if (!IsBusy)
            {
                Finish();
            }

            return;
        }

        Publish();
    }

    public override void OnDrain()
    {
        if (!_opened)
        {
            Finish();
        }
    }

    protected override void OnConnected()
    {
        _connected = true;
        Publish();
    }

    protected override void OnWritable() => Flush();

    protected override void OnEndOfStream() => Fail("the server closed a publisher's connection");

    protected override bool OnReceived(ReadOnlySpan<byte> data) => true;

    /// <summary>Queues what the window allows (rechecking the subscribers once half of it is used), then sends.</summary>
    private void Publish()
    {
        if (_next - _delivered > _state.Window / 2)
        {
            _delivered = _state.DeliveredToAll(_publisher);
        }

        var allowed = _delivered + 1 + _state.Window - _next;
        var room = (_buffer.Length - _queued) / _size;
        var count = (int)Math.Min(Math.Max(allowed, LateJoinAllowance(allowed)), room);
        if (count > 0)
        {
            var now = Stopwatch.GetTimestamp();
            for (var i = 0; i < count; i++)
            {
                BroadcastMessage.Write(_buffer.AsSpan(_queued, _size), _publisher, _next++, now);
                _queued += _size;
            }

            _state.SetPublished(_publisher, _next);
        }

        Flush();
    }

    /// <summary>One message past a shut window if only subscribers that have received nothing have held it so for <see cref="LateJoinWait"/>; else 0.</summary>
    private int LateJoinAllowance(long allowed)
    {
        if (allowed > 0 || _delivered >= 0)
        {
            _heldSince = 0;
            return 0;
        }

        var now = Stopwatch.GetTimestamp();
        if (_heldSince == 0)
        {
            _heldSince = now;
            return 0;
        }

        if (Stopwatch.GetElapsedTime(_heldSince, now) < LateJoinWait || !_state.HeldBackOnlyByUnreached(_publisher, _next - _state.Window + 1))
        {
            return 0;
        }

        _heldSince = now;
        return 1;
    }

    private void Flush()
    {
        while (_sent < _queued)
        {
            var sent = Send(_buffer.AsSpan(_sent, _queued - _sent));
            if (sent <= 0)
            {
                return;
            }

            _sent += (int)sent;
        }

        _sent = _queued = 0;
    }
}
