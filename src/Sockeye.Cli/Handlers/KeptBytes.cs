using System.Buffers;

namespace Sockeye.Cli.Handlers;

/// <summary>
/// A copy of received bytes that outlives the pipe's buffer, in one pooled array that grows by doubling: what the
/// print handler still owes the output when the connection ends before the client finished.
/// </summary>
internal sealed class KeptBytes : IDisposable
{
    private byte[] _buffer = [];

    public int Length { get; private set; }

    public ReadOnlySequence<byte> Bytes => new(_buffer, 0, Length);

    /// <summary>Adds <paramref name="bytes"/> after what is kept.</summary>
    public void Append(in ReadOnlySequence<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return;
        }

        var needed = checked(Length + (int)bytes.Length);
        if (needed > _buffer.Length)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, Math.Min(_buffer.Length * 2, Array.MaxLength)));
            _buffer.AsSpan(0, Length).CopyTo(larger);
            Return();
            _buffer = larger;
        }

        bytes.CopyTo(_buffer.AsSpan(Length));
        Length = needed;
    }

    /// <summary>Forgets what is kept, and gives its array back.</summary>
    public void Clear()
    {
        Length = 0;
        Return();
    }

    public void Dispose() => Clear();

    private void Return()
    {
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
        }
    }
}
