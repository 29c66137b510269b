using System.IO.Pipelines;

namespace Sockeye.Messaging;

/// <summary>
/// The gate of <see cref="GuardedOutput"/> around a <see cref="Pipe"/>'s writer: what the handler sees on the portable
/// transport, under TLS, and on in-memory connections. A pipe's writer alone has no defence against two writers (its
/// writing head is unsynchronized), so the guard is what keeps it whole.
/// </summary>
internal sealed class GuardedPipeWriter(PipeWriter inner) : GuardedOutput
{
    protected override Memory<byte> GetMemoryCore(int sizeHint) => inner.GetMemory(sizeHint);

    protected override void AdvanceCore(int bytes) => inner.Advance(bytes);

    protected override ValueTask<FlushResult> FlushCore(bool handler, CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    protected override void CancelPendingFlushCore() => inner.CancelPendingFlush();

    protected override void CompleteCore(Exception? exception) => inner.Complete(exception);

    protected override long UnflushedBytesCore => inner.CanGetUnflushedBytes ? inner.UnflushedBytes : 0;
}
