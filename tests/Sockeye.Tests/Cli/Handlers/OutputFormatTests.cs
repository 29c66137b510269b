using System.Buffers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Sockeye.Cli.Handlers;
using Sockeye.Tests.Framing;
using Sockeye.Transport;

namespace Sockeye.Tests.Cli.Handlers;

public class OutputFormatTests
{
    [Fact(Timeout = Timeouts.Fast)]
    public Task The_text_format_writes_the_seeds_lines_with_the_messages_own_bytes()
    {
        var written = Received(new TextFormat(), Segments.Of("héllo<EOF>"));

        Assert.Equal("Read 11 bytes from socket.\n Data : héllo<EOF>\n"u8.ToArray(), written);
        Assert.Equal("Sent 42 bytes to client.\n"u8.ToArray(), Sent(new TextFormat(), 42));
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task A_character_split_between_segments_is_written_whole()
    {
        // "é" is two bytes, 0xC3 0xA9: each segment alone is invalid UTF-8, the message is not.
        var message = Segments.Of([(byte)'h', 0xC3], [0xA9, (byte)'!']);

        var written = Received(new TextFormat(), message);

        Assert.Equal("Read 4 bytes from socket.\n Data : hé!\n"u8.ToArray(), written);
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData(false)]
    [InlineData(true)]
    public Task Invalid_bytes_are_written_in_hexadecimal(bool split)
    {
        byte[] bytes = [(byte)'a', 0xFF, (byte)'b', 0xC3];
        var message = split ? Segments.Of(bytes[..2], bytes[2..]) : new ReadOnlySequence<byte>(bytes);

        var written = Received(new TextFormat(), message);

        Assert.Equal("Read 4 bytes from socket.\n Data : a\\xFFb\\xC3\n", Encoding.UTF8.GetString(written));
        Assert.True(System.Text.Unicode.Utf8.IsValid(written));
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("00", @"\x00")]               // NUL
    [InlineData("07", @"\x07")]               // BEL
    [InlineData("1B5B324A", @"\x1B[2J")]      // ESC: clears the screen
    [InlineData("0D", @"\r")]                 // CR: back to the start of the line
    [InlineData("0A", @"\n")]                 // LF: a line of the client's own
    [InlineData("7F", @"\x7F")]               // DEL
    [InlineData("C285", @"\xC2\x85")]         // U+0085, NEL: a C1 control
    [InlineData("C29B", @"\xC2\x9B")]         // U+009B, CSI: a terminal reads it as ESC [
    [InlineData("09", "\t")]                  // a tab stays
    [InlineData("C2A0C2B0", "\u00A0\u00B0")]  // printable characters that share the C1 controls' first byte
    [InlineData("C3A9E282ACF09D849E", "é€𝄞")] // printable Unicode of 2, 3 and 4 bytes
    [InlineData("5C7831425C", @"\x1B\")]      // a backslash stays (jsonl has the exact bytes)
    [InlineData("E0", @"\xE0")]               // a character cut short
    [InlineData("EDA080", @"\xED\xA0\x80")]   // a surrogate, which UTF-8 never encodes
    public Task Control_characters_and_invalid_bytes_are_escaped_and_printable_text_is_kept(string hex, string expected)
    {
        var written = Received(new TextFormat(), new ReadOnlySequence<byte>(Convert.FromHexString(hex)));

        Assert.Equal($"Read {hex.Length / 2} bytes from socket.\n Data : {expected}\n", Encoding.UTF8.GetString(written));
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task A_client_cannot_forge_or_hide_a_record_in_text()
    {
        // Clear the screen, retitle the terminal, go back to the start of the line and write a record of its own.
        var forged = Segments.Of("\u001b[2J\u001b]0;pwned\u0007\rRead 1 bytes from socket.\n Data : FORGED\n");

        var written = Received(new TextFormat(), forged);

        Assert.Equal(
            $"Read {forged.Length} bytes from socket.\n Data : \\x1B[2J\\x1B]0;pwned\\x07\\rRead 1 bytes from socket.\\n Data : FORGED\\n\n",
            Encoding.UTF8.GetString(written));
        Assert.All(written, b => Assert.True(b >= 0x20 || b == '\n', $"control byte 0x{b:X2} written"));
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task A_c1_control_split_between_segments_is_escaped_whole()
    {
        var message = Segments.Of([(byte)'a', 0xC2], [0x9B, (byte)'b']);

        var written = Received(new TextFormat(), message);

        Assert.Equal("Read 4 bytes from socket.\n Data : a\\xC2\\x9Bb\n", Encoding.UTF8.GetString(written));
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task A_json_line_carries_the_text_and_for_invalid_bytes_their_base64()
    {
        var format = new JsonLinesFormat(new FakeTimeProvider(new DateTimeOffset(2026, 12, 7, 8, 0, 0, TimeSpan.Zero)));
        byte[] bytes = [(byte)'o', (byte)'k', 0xFF];

        var written = Received(format, new ReadOnlySequence<byte>(bytes));

        Assert.Equal((byte)'\n', written[^1]);
        Assert.Equal(1, written.Count(b => b == (byte)'\n'));
        using var json = JsonDocument.Parse(written);
        Assert.Equal("received", json.RootElement.GetProperty("event").GetString());
        Assert.Equal("2026-12-07T08:00:00.0000000+00:00", json.RootElement.GetProperty("time").GetString());
        Assert.Equal(3, json.RootElement.GetProperty("bytes").GetInt32());
        Assert.Equal("ok\uFFFD", json.RootElement.GetProperty("data").GetString());
        Assert.Equal(bytes, json.RootElement.GetProperty("dataBase64").GetBytesFromBase64());

        using var valid = JsonDocument.Parse(Received(format, Segments.Of("fine")));
        Assert.False(valid.RootElement.TryGetProperty("dataBase64", out _));
        return Task.CompletedTask;
    }

    private static byte[] Received(OutputFormat format, ReadOnlySequence<byte> message)
    {
        var buffer = new ArrayBufferWriter<byte>();
        format.WriteReceived(buffer, new InMemoryConnection(), message);
        return buffer.WrittenSpan.ToArray();
    }

    private static byte[] Sent(OutputFormat format, long byteCount)
    {
        var buffer = new ArrayBufferWriter<byte>();
        format.WriteSent(buffer, new InMemoryConnection(), byteCount);
        return buffer.WrittenSpan.ToArray();
    }
}
