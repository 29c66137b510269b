namespace Sockeye.Client;

/// <summary>
/// The socket's stream under a client's TLS, noting whether it ended: <see cref="System.Net.Security.SslStream"/>
/// reads it to its end only when the server closed without a TLS close_notify (after one, it reads no further),
/// while its own reads return 0 either way.
/// </summary>
internal sealed class EndWatchingStream(Stream inner) : Stream
{
    private volatile bool _ended;

    /// <summary>Whether a read returned the end of the stream.</summary>
    public bool Ended => _ended;

    public override bool CanRead => inner.CanRead;

    public override bool CanSeek => false;

    public override bool CanWrite => inner.CanWrite;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Note(inner.Read(buffer, offset, count), count);

    public override int Read(Span<byte> buffer) => Note(inner.Read(buffer), buffer.Length);

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Note(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false), buffer.Length);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

    public override void Write(ReadOnlySpan<byte> buffer) => inner.Write(buffer);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        inner.WriteAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        inner.WriteAsync(buffer, offset, count, cancellationToken);

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }

    // A read of no bytes (a wait for data) returns 0 without meaning the end.
    private int Note(int read, int asked)
    {
        if (read == 0 && asked > 0)
        {
            _ended = true;
        }

        return read;
    }
}
