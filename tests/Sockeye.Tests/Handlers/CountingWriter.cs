using System.IO.Pipelines;

namespace Sockeye.Tests.Handlers;

/// <summary>A writer that records how many bytes each flush sends on, to show which writes went out together.</summary>
internal sealed class CountingWriter(PipeWriter inner) : PipeWriter
{
    private readonly List<long> _flushes = [];

    /// <summary>The bytes each flush carried, leaving out flushes that carried none.</summary>
    public IReadOnlyList<long> Flushes => [.. _flushes.Where(bytes => bytes > 0)];

    public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

    public override long UnflushedBytes => inner.UnflushedBytes;

    public override void Advance(int bytes) => inner.Advance(bytes);

    public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

    public override void CancelPendingFlush() => inner.CancelPendingFlush();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        _flushes.Add(inner.UnflushedBytes);
        return inner.FlushAsync(cancellationToken);
    }
}
