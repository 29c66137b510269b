using System.Buffers;
using System.IO.Pipelines;

namespace Sockeye.Tests.Infrastructure;

/// <summary>
/// A connection's input, passed through, that lets a test wait until the handler has looked at a number of bytes
/// (its reads have returned them and it has advanced past or examined them): a signal that the handler has seen what
/// the client sent, where waiting for the socket alone would race the handler.
/// </summary>
internal sealed class WatchedInput(PipeReader inner) : PipeReader
{
    private readonly Lock _gate = new();
    private readonly List<(long Count, TaskCompletionSource Seen)> _waiters = [];
    private ReadOnlySequence<byte> _lastBuffer;
    private long _consumed;
    private long _examined;

    /// <summary>Puts a watched input in front of <paramref name="connection"/>'s; call before the handler runs.</summary>
    public static WatchedInput Watch(Connection connection)
    {
        var watched = new WatchedInput(connection.Transport.Input);
        connection.Transport = new Pair(watched, connection.Transport.Output);
        return watched;
    }

    /// <summary>Completes once the handler has examined at least <paramref name="count"/> bytes since the connection began.</summary>
    public Task ExaminedAsync(long count)
    {
        lock (_gate)
        {
            if (_examined >= count)
            {
                return Task.CompletedTask;
            }

            var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, seen));
            return seen.Task.WaitAsync(TestContext.Current.CancellationToken);
        }
    }

    public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) =>
        Remember(await inner.ReadAsync(cancellationToken));

    public override bool TryRead(out ReadResult result)
    {
        if (!inner.TryRead(out result))
        {
            return false;
        }

        Remember(result);
        return true;
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        lock (_gate)
        {
            var examinedAt = _consumed + _lastBuffer.Slice(0, examined).Length;
            _consumed += _lastBuffer.Slice(0, consumed).Length;
            _examined = Math.Max(_examined, examinedAt);
            foreach (var waiter in _waiters.Where(w => w.Count <= _examined).ToList())
            {
                waiter.Seen.TrySetResult();
                _waiters.Remove(waiter);
            }
        }

        inner.AdvanceTo(consumed, examined);
    }

    public override void CancelPendingRead() => inner.CancelPendingRead();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);

    private ReadResult Remember(ReadResult result)
    {
        lock (_gate)
        {
            _lastBuffer = result.Buffer;
        }

        return result;
    }

    private sealed class Pair(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
