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
}

/// <summary>
/// The seed's lines, made safe for a terminal: a client's text is written as it is, except for what could move the
/// cursor, change the terminal or start a line of its own. A line feed is written <c>\n</c> and a carriage return
/// <c>\r</c>; every other byte of a control character (C0 but tab, DEL, and the C1 controls U+0080 to U+009F, two
/// bytes each in UTF-8) and every byte that is not valid UTF-8 is written <c>\xNN</c>, in hexadecimal. So each record
/// is its two lines, and no client can end its own or forge another's. A backslash is written as it is: the exact
/// bytes are in <c>--output jsonl</c>.
/// </summary>
internal sealed class TextFormat : OutputFormat
{
    // Longest head: "Read " + a long's 20 digits + " bytes from socket.\n Data : ".
    private const int HeadSize = 64;

    // What makes a message more than its own bytes: a control character of one byte, or the first byte of a C1 control
    // (0xC2 0x80 to 0xC2 0x9F). Not finding one in valid UTF-8 means the message is written as it is.
    private static readonly SearchValues<byte> s_mayEscape = SearchValues.Create(ControlBytes([0xC2]));

    // Where writing a run of plain ASCII stops: a control character, or a byte of a character past ASCII.
    private static readonly SearchValues<byte> s_notPlainAscii = SearchValues.Create(ControlBytes(Enumerable.Range(0x80, 0x80).Select(b => (byte)b)));

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

    /// <summary>
    /// Writes <paramref name="message"/> as text, escaped as the class says: its own bytes when there is nothing to
    /// escape (no decoding, no copy to UTF-16).
    /// </summary>
    private static void WriteText(IBufferWriter<byte> destination, in ReadOnlySequence<byte> message)
    {
        if (message.IsSingleSegment)
        {
            WriteText(destination, message.FirstSpan);
            return;
        }

        // A character may be split between segments, so the bytes are looked at whole.
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

    internal static void WriteText(IBufferWriter<byte> destination, ReadOnlySpan<byte> bytes)
    {
        if (!bytes.ContainsAny(s_mayEscape) && System.Text.Unicode.Utf8.IsValid(bytes))
        {
            destination.Write(bytes);
            return;
        }

        while (!bytes.IsEmpty)
        {
            var text = TextLength(bytes);
            destination.Write(bytes[..text]);
            bytes = bytes[text..];
            if (!bytes.IsEmpty)
            {
                bytes = bytes[WriteEscaped(destination, bytes)..];
            }
        }
    }

    /// <summary>How many bytes <paramref name="bytes"/> starts with that are written as they are: text up to a control character or bytes that are not UTF-8.</summary>
    private static int TextLength(ReadOnlySpan<byte> bytes)
    {
        var length = 0;
        while (true)
        {
            var plain = bytes[length..].IndexOfAny(s_notPlainAscii);
            if (plain < 0)
            {
                return bytes.Length;
            }

            length += plain;
            if (bytes[length] < 0x80)
            {
                return length;
            }

            if (Rune.DecodeFromUtf8(bytes[length..], out var rune, out var size) != OperationStatus.Done || rune.Value <= 0x9F)
            {
                return length;
            }

            length += size;
        }
    }

    /// <summary>
    /// Writes what <paramref name="bytes"/> starts with, escaped: a control character, or bytes that are not UTF-8 (as
    /// many as decoding rejects at once). Returns how many bytes that was.
    /// </summary>
    private static int WriteEscaped(IBufferWriter<byte> destination, ReadOnlySpan<byte> bytes)
    {
        var count = 1;
        if (bytes[0] >= 0x80)
        {
            // A C1 control's two bytes, or the invalid ones; decoding never consumes none.
            Rune.DecodeFromUtf8(bytes, out _, out count);
        }

        var escaped = destination.GetSpan(4 * count);
        var written = 0;
        foreach (var b in bytes[..count])
        {
            escaped[written++] = (byte)'\\';
            switch (b)
            {
                case (byte)'\n':
                    escaped[written++] = (byte)'n';
                    break;
                case (byte)'\r':
                    escaped[written++] = (byte)'r';
                    break;
                default:
                    escaped[written++] = (byte)'x';
                    escaped[written++] = "0123456789ABCDEF"u8[b >> 4];
                    escaped[written++] = "0123456789ABCDEF"u8[b & 0xF];
                    break;
            }
        }

        destination.Advance(written);
        return count;
    }

    /// <summary>The control characters of one byte (C0 but tab, and DEL), and <paramref name="more"/>.</summary>
    private static byte[] ControlBytes(IEnumerable<byte> more) =>
        [.. Enumerable.Range(0, 0x20).Where(b => b != '\t').Select(b => (byte)b), 0x7F, .. more];
}
