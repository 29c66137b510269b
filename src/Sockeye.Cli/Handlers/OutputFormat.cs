using System.Buffers;
using System.Text;

namespace Sockeye.Cli.Handlers;

/// <summary>Turns one handler event into the text of one record, newline included.</summary>
internal abstract class OutputFormat
{
    // Invalid bytes become U+FFFD instead of throwing: what a client sends is never trusted to be UTF-8.
    protected static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    public abstract string Received(Connection connection, in ReadOnlySequence<byte> message);

    public abstract string Sent(Connection connection, long byteCount);
}

/// <summary>The seed's lines.</summary>
internal sealed class TextFormat : OutputFormat
{
    public override string Received(Connection connection, in ReadOnlySequence<byte> message) =>
        $"Read {message.Length} bytes from socket.\n Data : {Utf8.GetString(message)}\n";

    public override string Sent(Connection connection, long byteCount) => $"Sent {byteCount} bytes to client.\n";
}
