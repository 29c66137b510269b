using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Sockeye.Cli.Bench;

/// <summary>
/// A subscriber of the broadcast workload: sends nothing, checks every message every publisher sends (see
/// <see cref="BroadcastMessage"/>) and times each from when it was queued. One that never reads only waits to see
/// whether the server ends it.
/// </summary>
internal sealed class SubscriberConnection : LoadConnection
{
    private readonly BroadcastState _state;
    private readonly int _size;
    private readonly DeliveryOrder? _order;
    private readonly byte[]? _partial;
    private int _partialLength;

    public SubscriberConnection(LoadLoop loop, int index, BroadcastState state, int size)
        : base(loop, index)
    {
        _state = state;
        _size = size;
        if (!state.IsNonReader(index))
        {
            _order = new DeliveryOrder(state.Publishers);
            _partial = new byte[size];
        }

        state.Register(index, this);
    }

    /// <summary>Whether this subscriber reads; one that does not is a slow consumer for the server to deal with.</summary>
    public override bool Reads => _order is not null;

    /// <summary>
    /// One that never reads asks for a small receive buffer, so the server sees it stop within a few messages, as it
    /// would a client whose buffers are already full, whatever the system's defaults: the same for every server.
    /// </summary>
    protected override int ReceiveBufferSize => Reads ? 0 : 4096;

    /// <summary>
    /// One that never reads also announces an Ethernet-sized segment (1460 bytes), as a client across a real network
    /// does. On loopback the segment would be 64 KiB, and Linux sizes a connection's send buffer from it (twice ten
    /// segments, each rounded up to a power of two: about 2.5 MiB), so the server's kernel would absorb seconds of
    /// traffic before the server itself saw the client stop; with 1460 it is about 90 KiB, the same for every server.
    /// </summary>
    protected override int MaxSegmentSize => Reads ? 0 : 1460;

    public int LateJoins => _order?.LateJoins ?? 0;

    /// <summary>The last sequence number received from <paramref name="publisher"/>, or -1.</summary>
    public long Last(int publisher) => _order!.Last(publisher);

    protected override bool IsBusy => Reads && !HasEverything();

    public override void Begin() => Loop.RequestOpen(this);

    public override void OnDrain()
    {
        if (!IsBusy)
        {
            Finish();
        }
    }

    protected override void OnConnected()
    {
    }

    protected override void OnWritable()
    {
    }

    protected override void OnEndOfStream()
    {
        if (Reads)
        {
            Fail("the server closed a subscriber that reads");
            return;
        }

        // A slow consumer ended by the server, as it should be: not an error.
        _state.NonReaderEnded();
        Finish();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected override bool OnReceived(ReadOnlySpan<byte> data)
    {
        var now = Stopwatch.GetTimestamp();
        var record = Loop.Measuring;
        if (_partialLength > 0)
        {
            var take = Math.Min(_size - _partialLength, data.Length);
            data[..take].CopyTo(_partial.AsSpan(_partialLength));
            _partialLength += take;
            data = data[take..];
            if (_partialLength < _size)
            {
                return true;
            }

            _partialLength = 0;
            if (!Take(_partial, now, record))
            {
                return false;
            }
        }

        while (data.Length >= _size)
        {
            if (!Take(data[.._size], now, record))
            {
                return false;
            }

            data = data[_size..];
        }

        data.CopyTo(_partial);
        _partialLength = data.Length;
        if (Loop.Draining && HasEverything())
        {
            Finish();
            return false;
        }

        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool Take(ReadOnlySpan<byte> line, long now, bool record)
    {
        var error = BroadcastMessage.Read(line, _state.Publishers, out var publisher, out var sequence, out var queuedAt)
            ?? _order!.Accept(publisher, sequence);
        if (error is not null)
        {
            Fail($"a subscriber got {error}");
            return false;
        }

        Stats.Message(now - queuedAt, record);
        return true;
    }

    /// <summary>
    /// The publishers stopped, and the drain's grace has passed: what has not arrived by now was lost (or the server
    /// holds it without sending), which is an error; what arrived within the grace was not.
    /// </summary>
    protected override string StillOwed()
    {
        long owed = 0;
        for (var publisher = 0; publisher < _state.Publishers; publisher++)
        {
            owed += Math.Max(0, _state.Published(publisher) - 1 - _order!.Last(publisher));
        }

        return $"a subscriber was still owed {owed} message(s) when the drain's grace ended after the publishers stopped";
    }

    /// <summary>Whether every message every publisher has queued so far has arrived (once draining, the publishers queue no more).</summary>
    private bool HasEverything()
    {
        for (var publisher = 0; publisher < _state.Publishers; publisher++)
        {
            if (_order!.Last(publisher) < _state.Published(publisher) - 1)
            {
                return false;
            }
        }

        return true;
    }
}
