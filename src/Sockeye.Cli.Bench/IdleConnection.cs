namespace Sockeye.Cli.Bench;

/// <summary>
/// The idle workload on one connection: connect, exchange one message of <c>size</c> bytes (so the server has
/// certainly accepted the connection and run its handler), then hold the connection open and quiet.
/// </summary>
internal sealed class IdleConnection : LoadConnection
{
    private readonly int _size;
    private readonly long _start;
    private long _sent;
    private long _received;
    private bool _ready;

    public IdleConnection(LoadLoop loop, int index, int size)
        : base(loop, index)
    {
        _size = size;
        _start = Payload.StartFor(index);
    }

    protected override bool IsBusy => !_ready;

    public override void Begin() => Loop.RequestOpen(this);

    public override void OnDrain() => Finish();

    protected override void OnConnected()
    {
        if (_size == 0)
        {
            BecomeReady();
            return;
        }

        Flush();
    }

    protected override void OnWritable() => Flush();

    protected override void OnEndOfStream() =>
        Fail(_ready ? "the server closed an idle connection" : "the server closed the connection before it echoed");

    protected override bool OnReceived(ReadOnlySpan<byte> echoed)
    {
        if (_received + echoed.Length > _sent || !Payload.Matches(_start + _received, echoed))
        {
            Fail("the echo differs from what was sent");
            return false;
        }

        _received += echoed.Length;
        if (_received == _size && !_ready)
        {
            BecomeReady();
        }

        return true;
    }

    private void BecomeReady()
    {
        _ready = true;
        Stats.BecameReady();
        Stats.Message(0, record: false);
    }

    private void Flush()
    {
        while (_sent < _size)
        {
            var sent = Send(Payload.At(_start + _sent, _size - _sent));
            if (sent <= 0)
            {
                return;
            }

            _sent += sent;
        }
    }
}
