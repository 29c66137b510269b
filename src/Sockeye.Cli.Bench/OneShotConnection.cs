using System.Diagnostics;
using Sockeye.Cli.Bench.Native;
using Sockeye.Transport.Linux;

namespace Sockeye.Cli.Bench;

/// <summary>
/// The one-shot workload on one slot: connect, send the request, read the reply until the server closes, check
/// it, close, and start again. Each exchange is timed from the connect to the server's close.
/// </summary>
/// <remarks>
/// Two shapes: the companion's (the payload plus the delimiter, and the same bytes back), and the seed's with a
/// half-close (the payload, then the sending side ended, and nothing back).
/// </remarks>
internal sealed class OneShotConnection : LoadConnection
{
    // An exchange that takes longer than this is counted as an error and abandoned.
    private static readonly long s_exchangeTimeout = Stopwatch.Frequency * 30;

    private readonly byte[] _request;
    private readonly bool _halfClose;
    private long _started;
    private int _sent;
    private int _replied;
    private bool _busy;
    private bool _shutDown;
    private bool _retryOnSweep;

    public OneShotConnection(LoadLoop loop, int index, byte[] request, bool halfClose)
        : base(loop, index)
    {
        _request = request;
        _halfClose = halfClose;
    }

    protected override bool IsBusy => _busy;

    public override void Begin() => StartExchange();

    public override void OnDrain()
    {
        if (!_busy)
        {
            Finish();
        }
    }

    public override void OnSweep(long now)
    {
        base.OnSweep(now);
        if (_busy && now - _started > s_exchangeTimeout)
        {
            Fail("no complete reply within 30 s");
        }
        else if (_retryOnSweep && !IsFinished)
        {
            // After a failure the slot pauses until the next sweep, so a server that is down is not hammered.
            _retryOnSweep = false;
            StartExchange();
        }
    }

    protected override void OnConnected() => Flush();

    protected override void OnWritable() => Flush();

    protected override void OnEndOfStream() => Complete();

    protected override void OnFailed()
    {
        _busy = false;
        if (Loop.Draining)
        {
            Finish();
        }
        else
        {
            _retryOnSweep = true;
        }
    }

    private void StartExchange()
    {
        _busy = true;
        _sent = 0;
        _replied = 0;
        _shutDown = false;
        _started = Stopwatch.GetTimestamp();
        Loop.RequestOpen(this);
    }

    private void Flush()
    {
        while (_sent < _request.Length)
        {
            var sent = Send(_request.AsSpan(_sent));
            if (sent <= 0)
            {
                return;
            }

            _sent += (int)sent;
        }

        if (_halfClose && !_shutDown && Fd >= 0)
        {
            _shutDown = true;
            var result = TcpSocket.ShutdownSend(Fd);
            if (result != 0)
            {
                Fail($"shutdown failed: {LinuxNative.Describe(-result)}");
            }
        }
    }

    protected override bool OnReceived(ReadOnlySpan<byte> reply)
    {
        var expected = _halfClose ? 0 : _request.Length;
        if (_replied + reply.Length > expected)
        {
            Fail(_halfClose
                ? "the server replied to a half-closed request; the print handler sends nothing"
                : $"the reply is longer than the {expected} bytes sent");
            return false;
        }

        if (!reply.SequenceEqual(_request.AsSpan(_replied, reply.Length)))
        {
            Fail($"the reply differs from the request within bytes {_replied}-{_replied + reply.Length}");
            return false;
        }

        _replied += reply.Length;
        return true;
    }

    private void Complete()
    {
        var expected = _halfClose ? 0 : _request.Length;
        if (_sent < _request.Length || _replied < expected)
        {
            Fail($"the server closed after {_replied} of {expected} reply bytes ({_sent} of {_request.Length} request bytes sent)");
            return;
        }

        CloseSocket();
        _busy = false;
        Stats.Message(Stopwatch.GetTimestamp() - _started, Loop.Measuring);
        if (Loop.Draining)
        {
            Finish();
        }
        else
        {
            StartExchange();
        }
    }
}
