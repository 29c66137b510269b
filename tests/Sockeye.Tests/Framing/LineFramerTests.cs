using System.Buffers;
using System.Text;
using Sockeye.Framing;
using Sockeye.Testing;

namespace Sockeye.Tests.Framing;

public class LineFramerTests
{
    private readonly LineFramer _framer = new();

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_handler_writes_text_replies_as_utf8_lines_without_encoding_them_itself()
    {
        await using var test = TestConnection.Start(ConnectionHandler.Create(async connection =>
        {
            await foreach (var line in connection.ReadMessagesAsync(_framer))
            {
                connection.WriteMessage(_framer, $"héllo {line.Length}");
                await connection.WriteMessageAsync(_framer, "bye");
                Assert.Throws<ArgumentException>(() => connection.WriteMessage(_framer, "two\nlines"));
            }
        }));

        await test.SendAsync("abc\n");
        await test.CompleteSendingAsync();

        Assert.Equal("héllo 3\nbye\n", Encoding.UTF8.GetString(await test.ReceiveToEndAsync(TestContext.Current.CancellationToken)));
        await test.Completion;
        Assert.Null(test.HandlerException);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Accepts_lf_and_crlf_and_leaves_both_out_of_the_message()
    {
        var outcome = await Framed.ReadAsync(_framer, "one\r\ntwo\nthree\r\n"u8.ToArray());

        Assert.Equal(["one", "two", "three"], outcome.Texts);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Strips_only_the_carriage_return_just_before_the_line_feed()
    {
        var outcome = await Framed.ReadAsync(_framer, "a\rb\nc\r\r\n"u8.ToArray());

        Assert.Equal(["a\rb", "c\r"], outcome.Texts);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_message_that_ends_with_a_carriage_return_is_written_with_crlf_and_reads_back_whole()
    {
        var data = Framed.Frame(_framer, "c\r"u8.ToArray(), "d"u8.ToArray());

        Assert.Equal("c\r\r\nd\n", Encoding.UTF8.GetString(data));
        Assert.Equal(["c\r", "d"], (await Framed.ReadAsync(_framer, data)).Texts);
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("12345678\r\n", null)]
    [InlineData("12345678\n", null)]
    [InlineData("123456789\n", ConnectionEndReason.MessageTooLarge)]
    [InlineData("123456789\r\n", ConnectionEndReason.MessageTooLarge)]
    [InlineData("123456789\r", ConnectionEndReason.MessageTooLarge)]
    public async Task A_line_of_the_maximum_length_may_end_with_either_line_ending(string input, ConnectionEndReason? error)
    {
        var outcome = await Framed.ReadAsync(_framer, Framed.ByteByByte(Encoding.UTF8.GetBytes(input)), maxMessageSize: 8);

        Assert.Equal(error, outcome.Error?.EndReason);
        Assert.Equal(error is null ? ["12345678"] : [], outcome.Texts);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task Refuses_to_write_a_line_feed_inside_a_message()
    {
        var output = new ArrayBufferWriter<byte>();

        Assert.Throws<ArgumentException>(() => _framer.WriteMessage("a\nb"u8, output));
        Assert.Throws<ArgumentException>(() => _framer.WriteMessage(Segments.Of("a", "\nb"), output));
        Assert.Equal(0, output.WrittenCount);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task Writes_a_message_of_several_segments_like_one_of_one()
    {
        var output = new ArrayBufferWriter<byte>();

        _framer.WriteMessage(Segments.Of("ab", "c\r"), output);

        Assert.Equal("abc\r\r\n", Encoding.UTF8.GetString(output.WrittenSpan));
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task Searches_only_from_where_the_last_search_stopped()
    {
        // A line feed before the resume point is not found again: a long line costs one pass, not one per read.
        var parsed = Framed.Parse(_framer, "ab\ncd"u8.ToArray(), resumeAt: 3);

        Assert.Equal(new Framed.Parsed(false, 0, 5, null), parsed);
        return Task.CompletedTask;
    }
}
