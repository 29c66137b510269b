using System.Buffers;
using System.IO.Pipelines;

namespace Sockeye.Benchmarks;

/// <summary>
/// A pipe reader that plays whole frames over and over, never ending, as a connection in steady state: everything
/// is already buffered, so reading costs nothing but the message reader's own work, and allocates nothing.
/// </summary>
internal sealed class ReplayPipeReader(ReadOnlySequence<byte> data) : PipeReader
{
    private SequencePosition _position = data.Start;

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) => new(Result());

    public override bool TryRead(out ReadResult result)
    {
        result = Result();
        return true;
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    // Every frame is whole, so once all are consumed the data starts again from the top.
    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) =>
        _position = consumed.Equals(data.End) ? data.Start : consumed;

    public override void CancelPendingRead()
    {
    }

    public override void Complete(Exception? exception = null)
    {
    }

    private ReadResult Result() => new(data.Slice(_position), isCanceled: false, isCompleted: false);
}
