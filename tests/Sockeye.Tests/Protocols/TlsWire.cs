namespace Sockeye.Tests.Protocols;

/// <summary>
/// What TLS puts on the wire, seen from outside: TLS 1.2 sends each record's content type in the clear, so a test can
/// tell an alert (close_notify) from application data without decrypting anything.
/// </summary>
internal static class TlsWire
{
    public const byte Alert = 0x15;

    public const byte ApplicationData = 0x17;

    /// <summary>The content type of each whole TLS record in <paramref name="bytes"/>: type, version, length, then the body.</summary>
    public static List<byte> RecordTypes(byte[] bytes)
    {
        var types = new List<byte>();
        for (var offset = 0; offset + 5 <= bytes.Length; offset += 5 + ((bytes[offset + 3] << 8) | bytes[offset + 4]))
        {
            types.Add(bytes[offset]);
        }

        return types;
    }

    /// <summary>A stream that keeps a copy of every byte read through it.</summary>
    internal sealed class RecordingStream(Stream inner) : Stream
    {
        public MemoryStream Received { get; } = new();

        public override bool CanRead => true;

        public override bool CanWrite => true;

        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken);
            Received.Write(buffer.Span[..read]);
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        /// <summary>When set, the next write goes out only half written: a TLS record cut in the middle.</summary>
        public bool HalveNextWrite { get; set; }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (HalveNextWrite)
            {
                HalveNextWrite = false;
                buffer = buffer[..(buffer.Length / 2)];
            }

            return inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
                Received.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
