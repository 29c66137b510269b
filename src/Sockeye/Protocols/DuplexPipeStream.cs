using System.Buffers;
using System.IO.Pipelines;

namespace Sockeye.Protocols;

/// <summary>
/// A <see cref="Stream"/> over a connection's raw pipes, for <see cref="System.Net.Security.SslStream"/>: reads take
/// from the input pipe, writes go to the output pipe and flush, so the pipes' backpressure reaches TLS.
/// </summary>
internal sealed class DuplexPipeStream(IDuplexPipe pipe) : Stream
{
    private readonly PipeReader _input = pipe.Input;
    private readonly PipeWriter _output = pipe.Output;
    private bool _stopped;

    /// <summary>How many bytes have been read, so a handshake failure can tell a silent peer from a bad one.</summary>
    public long BytesRead { get; private set; }

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>
    /// Copies what the input pipe holds, up to <paramref name="buffer"/>'s size. Returns 0 at the end of the stream, and
    /// from the moment the layer cancels the pending read to stop reading.
    /// </summary>
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        // The end must stick: SslStream waits for data with a zero-byte read and then reads again, and that second
        // read would otherwise wait for the client all over again.
        if (_stopped)
        {
            return 0;
        }

        var result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
        var data = result.Buffer;
        _stopped = result.IsCanceled;
        if (result.IsCanceled || buffer.IsEmpty || data.IsEmpty)
        {
            // A zero-byte read only waits for data: leave it unexamined so the next read returns it at once.
            _input.AdvanceTo(data.Start);
            return 0;
        }

        var count = (int)Math.Min(buffer.Length, data.Length);
        data.Slice(0, count).CopyTo(buffer.Span);
        _input.AdvanceTo(data.GetPosition(count));
        BytesRead += count;
        return count;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var result = await _output.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (result.IsCompleted || result.IsCanceled)
        {
            throw new IOException("The connection can no longer send.");
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task FlushAsync(CancellationToken cancellationToken) =>
        _output.FlushAsync(cancellationToken).AsTask();

    // SslStream is driven only through the asynchronous methods; blocking here would stall a thread-pool thread.
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
