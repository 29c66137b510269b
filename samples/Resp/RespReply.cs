using System.Buffers;
using System.Buffers.Text;
using Sockeye.Framing;

namespace Sockeye.Samples.Resp;

/// <summary>What a RESP2 reply is: its first byte on the wire, or a null.</summary>
internal enum RespReplyKind : byte
{
    /// <summary><c>+OK\r\n</c></summary>
    Simple,

    /// <summary><c>-ERR message\r\n</c></summary>
    Error,

    /// <summary><c>:42\r\n</c></summary>
    Integer,

    /// <summary><c>$5\r\nhello\r\n</c></summary>
    Bulk,

    /// <summary><c>$-1\r\n</c>: a key with no value.</summary>
    NullBulk,

    /// <summary><c>*2\r\n</c>: the header of an array, whose elements follow as replies of their own.</summary>
    Array,
}

/// <summary>
/// One RESP2 reply: a value written by <see cref="RespReplyWriter"/>, without being copied first. Text and bulk
/// bytes are borrowed: they must stay valid until the reply is written (a slice of the command, or a stored value).
/// </summary>
internal readonly struct RespReply
{
    private RespReply(RespReplyKind kind, ReadOnlySequence<byte> text, long integer)
    {
        Kind = kind;
        Text = text;
        Integer = integer;
    }

    public static RespReply Ok { get; } = Simple("OK"u8.ToArray());

    public static RespReply Null { get; } = new(RespReplyKind.NullBulk, default, 0);

    public RespReplyKind Kind { get; }

    /// <summary>A simple string's or an error's text, or a bulk string's bytes.</summary>
    public ReadOnlySequence<byte> Text { get; }

    /// <summary>An integer, or an array's length.</summary>
    public long Integer { get; }

    /// <summary>A status line such as <c>+PONG</c>: text without CR or LF.</summary>
    public static RespReply Simple(ReadOnlyMemory<byte> text) => new(RespReplyKind.Simple, new(text), 0);

    /// <summary>
    /// An error, <c>-ERR ...</c>: its text, which starts with the error's code. A CR or LF in it would end the line
    /// early and break the framing, so every control character becomes a space, as Redis makes CR and LF spaces.
    /// </summary>
    public static RespReply Error(string text)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(text);
        foreach (ref var b in bytes.AsSpan())
        {
            b = b is < 0x20 or 0x7F ? (byte)' ' : b;
        }

        return new(RespReplyKind.Error, new(bytes), 0);
    }

    public static RespReply Number(long value) => new(RespReplyKind.Integer, default, value);

    public static RespReply Bulk(ReadOnlyMemory<byte> bytes) => new(RespReplyKind.Bulk, new(bytes), 0);

    public static RespReply Bulk(in ReadOnlySequence<byte> bytes) => new(RespReplyKind.Bulk, bytes, 0);

    /// <summary>The header of an array of <paramref name="length"/> elements, each written after it as a reply of its own.</summary>
    public static RespReply Array(int length) => new(RespReplyKind.Array, default, length);
}

/// <summary>Writes RESP2 replies: the sample's <see cref="IMessageWriter{TMessage}"/>.</summary>
internal sealed class RespReplyWriter : IMessageWriter<RespReply>
{
    public static RespReplyWriter Instance { get; } = new();

    public void WriteMessage(RespReply message, IBufferWriter<byte> output)
    {
        switch (message.Kind)
        {
            case RespReplyKind.Simple:
                WriteLine(output, (byte)'+', message.Text);
                break;
            case RespReplyKind.Error:
                WriteLine(output, (byte)'-', message.Text);
                break;
            case RespReplyKind.Integer:
                WriteNumber(output, (byte)':', message.Integer);
                break;
            case RespReplyKind.Array:
                WriteNumber(output, (byte)'*', message.Integer);
                break;
            case RespReplyKind.NullBulk:
                output.Write("$-1\r\n"u8);
                break;
            case RespReplyKind.Bulk:
                var text = message.Text;
                var span = output.GetSpan(24 + (int)Math.Min(text.Length, 4096));
                span[0] = (byte)'$';
                Utf8Formatter.TryFormat(text.Length, span[1..], out var digits);
                "\r\n"u8.CopyTo(span[(1 + digits)..]);
                var header = digits + 3;
                if (text.Length + 2 <= span.Length - header)
                {
                    // The common case, a small value: one span, one Advance.
                    text.CopyTo(span[header..]);
                    "\r\n"u8.CopyTo(span[(header + (int)text.Length)..]);
                    output.Advance(header + (int)text.Length + 2);
                }
                else
                {
                    output.Advance(header);
                    foreach (var segment in text)
                    {
                        output.Write(segment.Span);
                    }

                    output.Write("\r\n"u8);
                }

                break;
            default:
                throw new ArgumentException($"Unknown reply kind {message.Kind}.", nameof(message));
        }
    }

    private static void WriteLine(IBufferWriter<byte> output, byte type, in ReadOnlySequence<byte> text)
    {
        output.Write([type]);
        foreach (var segment in text)
        {
            output.Write(segment.Span);
        }

        output.Write("\r\n"u8);
    }

    private static void WriteNumber(IBufferWriter<byte> output, byte type, long value)
    {
        var span = output.GetSpan(24);
        span[0] = type;
        Utf8Formatter.TryFormat(value, span[1..], out var digits);
        "\r\n"u8.CopyTo(span[(1 + digits)..]);
        output.Advance(digits + 3);
    }
}
