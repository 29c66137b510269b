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
    public Task Invalid_bytes_are_written_as_the_replacement_character(bool split)
    {
        byte[] bytes = [(byte)'a', 0xFF, (byte)'b', 0xC3];
        var message = split ? Segments.Of(bytes[..2], bytes[2..]) : new ReadOnlySequence<byte>(bytes);

        var written = Received(new TextFormat(), message);

        Assert.Equal("Read 4 bytes from socket.\n Data : a\uFFFDb\uFFFD\n", Encoding.UTF8.GetString(written));
        Assert.True(System.Text.Unicode.Utf8.IsValid(written));
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
