using System.Diagnostics;

namespace Sockeye.Cli.Bench;

/// <summary>
/// A publisher of the broadcast workload: once every subscriber is connected, it queues numbered messages as far as
/// its window allows (see <see cref="BroadcastState"/>), as many as the window frees in one send. What the server
/// relays to it from other publishers is read and dropped.
/// </summary>
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
        var count = (int)Math.Min(allowed, room);
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
