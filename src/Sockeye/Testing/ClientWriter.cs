using System.IO.Pipelines;

namespace Sockeye.Testing;

/// <summary>The test's writer to the handler: it remembers whether the client ended its side.</summary>
internal sealed class ClientWriter(PipeWriter inner) : PipeWriter
{
    private volatile bool _completed;

    public bool IsCompleted => _completed;

    public override void Advance(int bytes) => inner.Advance(bytes);

    public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

    public override void CancelPendingFlush() => inner.CancelPendingFlush();

    public override void Complete(Exception? exception = null)
    {
        _completed = true;
        inner.Complete(exception);
    }
}
