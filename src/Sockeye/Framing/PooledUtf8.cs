using System.Buffers;
using System.Text;

namespace Sockeye.Framing;

/// <summary>Text encoded as UTF-8 into a pooled buffer, for as long as a framer needs its bytes; dispose to return it.</summary>
internal readonly ref struct PooledUtf8 : IDisposable
{
    private readonly byte[] _buffer;
    private readonly int _length;

    /// <summary>Encodes <paramref name="text"/>.</summary>
    public PooledUtf8(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(Encoding.UTF8.GetMaxByteCount(text.Length), 1));
        _length = Encoding.UTF8.GetBytes(text, _buffer);
    }

    /// <summary>The text's bytes.</summary>
    public ReadOnlySpan<byte> Bytes => _buffer.AsSpan(0, _length);

    public void Dispose() => ArrayPool<byte>.Shared.Return(_buffer);
}
