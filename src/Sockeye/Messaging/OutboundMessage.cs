using System.Buffers;
using Sockeye.Framing;

namespace Sockeye.Messaging;

/// <summary>
/// The bytes of one pushed message, framed once and shared by every connection it is queued for: a pooled buffer with
/// a reference count. Each queue that holds it owns one reference and gives it back once the bytes are in its output
/// (or dropped); the last one returns the buffer to the pool.
/// </summary>
internal sealed class OutboundMessage
{
    private byte[] _buffer;
    private int _length;
    private int _references;

    private OutboundMessage(byte[] buffer, int length)
    {
        _buffer = buffer;
        _length = length;
        _references = 1;
    }

    public int Length => _length;

    public ReadOnlySpan<byte> Span => _buffer.AsSpan(0, _length);

    /// <summary>A message holding a copy of <paramref name="data"/>, with one reference, the caller's.</summary>
    public static OutboundMessage Copy(ReadOnlySpan<byte> data)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(data.Length, 1));
        data.CopyTo(buffer);
        return new OutboundMessage(buffer, data.Length);
    }

    /// <summary>A message holding a copy of <paramref name="data"/>, with one reference, the caller's.</summary>
    public static OutboundMessage Copy(in ReadOnlySequence<byte> data)
    {
        if (data.Length > Array.MaxLength)
        {
            throw new ArgumentException("The message is too large to send in one piece.", nameof(data));
        }

        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max((int)data.Length, 1));
        data.CopyTo(buffer);
        return new OutboundMessage(buffer, (int)data.Length);
    }

    /// <summary>A message framed by <paramref name="framer"/>, with one reference, the caller's.</summary>
    public static OutboundMessage Frame(MessageFramer framer, ReadOnlySpan<byte> message)
    {
        ArgumentNullException.ThrowIfNull(framer);
        var writer = MessageBufferWriter.Rent(message.Length + 16);
        try
        {
            framer.WriteMessage(message, writer);
            return writer.Detach();
        }
        finally
        {
            writer.Return();
        }
    }

    /// <summary>Text, as UTF-8, framed by <paramref name="framer"/>, with one reference, the caller's.</summary>
    public static OutboundMessage Frame(MessageFramer framer, string text)
    {
        using var utf8 = new PooledUtf8(text);
        return Frame(framer, utf8.Bytes);
    }

    /// <summary>A message written by <paramref name="writer"/>, with one reference, the caller's.</summary>
    public static OutboundMessage Frame<TMessage>(IMessageWriter<TMessage> writer, TMessage message)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var buffer = MessageBufferWriter.Rent(256);
        try
        {
            writer.WriteMessage(message, buffer);
            return buffer.Detach();
        }
        finally
        {
            buffer.Return();
        }
    }

    /// <summary>Sets the count before the message is shared: one reference per queue it may go to, plus the caller's.</summary>
    /// <remarks>Counting up front costs one write instead of one interlocked increment per recipient on a shared line.</remarks>
    public void SetReferences(int count) => Volatile.Write(ref _references, count);

    /// <summary>Gives back <paramref name="count"/> references; the last returns the buffer to the pool.</summary>
    public void Release(int count = 1)
    {
        if (count > 0 && Interlocked.Add(ref _references, -count) == 0)
        {
            var buffer = _buffer;
            _buffer = [];
            _length = 0;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Frames a message into a pooled buffer that grows as needed. One per thread, reused: framing a broadcast allocates
    /// nothing but the message.
    /// </summary>
    private sealed class MessageBufferWriter : IBufferWriter<byte>
    {
        [ThreadStatic]
        private static MessageBufferWriter? t_cached;

        private byte[] _buffer = [];
        private int _written;

        public static MessageBufferWriter Rent(int sizeHint)
        {
            var writer = t_cached ?? new MessageBufferWriter();
            t_cached = null;
            writer._buffer = ArrayPool<byte>.Shared.Rent(Math.Max(sizeHint, 16));
            writer._written = 0;
            return writer;
        }

        public OutboundMessage Detach()
        {
            var message = new OutboundMessage(_buffer, _written);
            _buffer = [];
            _written = 0;
            return message;
        }

        public void Return()
        {
            if (_buffer.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = [];
            }

            t_cached = this;
        }

        public void Advance(int count)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(count);
            if (count > _buffer.Length - _written)
            {
                throw new ArgumentOutOfRangeException(nameof(count), count, "Advanced past the memory that was asked for.");
            }

            _written += count;
        }

        public Memory<byte> GetMemory(int sizeHint = 0)
        {
            Ensure(sizeHint);
            return _buffer.AsMemory(_written);
        }

        public Span<byte> GetSpan(int sizeHint = 0)
        {
            Ensure(sizeHint);
            return _buffer.AsSpan(_written);
        }

        private void Ensure(int sizeHint)
        {
            var needed = Math.Max(sizeHint, 1);
            if (_buffer.Length - _written >= needed)
            {
                return;
            }

            var grown = ArrayPool<byte>.Shared.Rent((int)Math.Min(Math.Max((long)_buffer.Length * 2, (long)_written + needed), Array.MaxLength));
            _buffer.AsSpan(0, _written).CopyTo(grown);
            if (_buffer.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
            }

            _buffer = grown;
        }
    }
}
