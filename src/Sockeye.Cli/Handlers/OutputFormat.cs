using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Sockeye.Cli.Handlers;

/// <summary>Writes one handler event as the UTF-8 bytes of one record, newline included.</summary>
internal abstract class OutputFormat
{
    // Invalid bytes become U+FFFD instead of throwing: what a client sends is never trusted to be UTF-8.
    protected static readonly UTF8Encoding ReplacingUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    public abstract void WriteReceived(IBufferWriter<byte> destination, Connection connection, in ReadOnlySequence<byte> message);

    public abstract void WriteSent(IBufferWriter<byte> destination, Connection connection, long byteCount);

    /// <summary>
    /// Writes <paramref name="message"/> as text: its own bytes when they are valid UTF-8 (no decoding, no copy to
    /// UTF-16), otherwise what decoding it would give, each invalid sequence replaced by U+FFFD.
    /// </summary>
    protected static void WriteText(IBufferWriter<byte> destination, in ReadOnlySequence<byte> message)
    {
        if (message.IsSingleSegment)
        {
            WriteText(destination, message.FirstSpan);
            return;
        }

        // A character may be split between segments, so the bytes are checked whole.
        var length = checked((int)message.Length);
        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            message.CopyTo(rented);
            WriteText(destination, rented.AsSpan(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static void WriteText(IBufferWriter<byte> destination, ReadOnlySpan<byte> bytes)
    {
        if (System.Text.Unicode.Utf8.IsValid(bytes))
        {
            destination.Write(bytes);
            return;
        }

        var text = ReplacingUtf8.GetString(bytes);
        var written = ReplacingUtf8.GetBytes(text, destination.GetSpan(ReplacingUtf8.GetByteCount(text)));
        destination.Advance(written);
    }
}

/// <summary>The seed's lines.</summary>
internal sealed class TextFormat : OutputFormat
{
    // Longest head: "Read " + a long's 20 digits + " bytes from socket.\n Data : ".
    private const int HeadSize = 64;

    public override void WriteReceived(IBufferWriter<byte> destination, Connection connection, in ReadOnlySequence<byte> message)
    {
        var head = destination.GetSpan(HeadSize);
        var fits = System.Text.Unicode.Utf8.TryWrite(head, CultureInfo.InvariantCulture, $"Read {message.Length} bytes from socket.\n Data : ", out var written);
        Debug.Assert(fits);
        destination.Advance(written);
        WriteText(destination, message);
        destination.Write("\n"u8);
    }

    public override void WriteSent(IBufferWriter<byte> destination, Connection connection, long byteCount)
    {
        var line = destination.GetSpan(HeadSize);
        var fits = System.Text.Unicode.Utf8.TryWrite(line, CultureInfo.InvariantCulture, $"Sent {byteCount} bytes to client.\n", out var written);
        Debug.Assert(fits);
        destination.Advance(written);
    }
}
