using System.Buffers;
using System.Text;
using Sockeye.Framing;

namespace Sockeye.Tests.Framing;

public class DelimiterFramerTests
{
    [Fact(Timeout = Timeouts.Fast)]
    public async Task The_default_delimiter_is_eof_and_is_left_out_of_the_message()
    {
        var outcome = await Framed.ReadAsync(new DelimiterFramer(), "This is a test<EOF>"u8.ToArray());

        Assert.Equal(["This is a test"], outcome.Texts);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task Searches_only_from_where_the_last_search_stopped()
    {
        // A delimiter before the resume point is not found again: the search never restarts at the beginning.
        var parsed = Framed.Parse(new DelimiterFramer(), "xx<EOF>yy<EOF>"u8.ToArray(), resumeAt: 3);

        Assert.Equal(new Framed.Parsed(true, 14, 14, "xx<EOF>yy"), parsed);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task Resumes_before_the_last_bytes_that_may_begin_a_delimiter()
    {
        var parsed = Framed.Parse(new DelimiterFramer(), "abc<EO"u8.ToArray());

        // "<EOF>" is five bytes: the last four ("c<EO") may be the start of one, so the next search begins there.
        Assert.Equal(new Framed.Parsed(false, 0, 2, null), parsed);
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("aa", "baaa", new[] { "b" }, true)]
    [InlineData("abab", "xabababab", new[] { "x", "" }, false)]
    [InlineData("abab", "xaababab", new[] { "xa" }, true)]
    public async Task A_self_overlapping_delimiter_ends_a_message_at_its_first_occurrence(string delimiter, string input, string[] messages, bool truncated)
    {
        var framer = new DelimiterFramer(delimiter);

        foreach (var chunks in Framed.EverySplit(Encoding.UTF8.GetBytes(input)))
        {
            var outcome = await Framed.ReadAsync(framer, chunks);

            Assert.Equal(messages, outcome.Texts);
            Assert.Equal(truncated, outcome.Error is not null);
        }
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("<EOF>", "a<EOF>b")]
    [InlineData("aa", "ba")]
    [InlineData("abab", "xab")]
    public Task Refuses_to_write_a_message_that_holds_or_would_begin_the_delimiter(string delimiter, string message)
    {
        var framer = new DelimiterFramer(delimiter);
        var output = new ArrayBufferWriter<byte>();
        var bytes = Encoding.UTF8.GetBytes(message);

        Assert.Throws<ArgumentException>(() => framer.WriteMessage(bytes, output));
        Assert.Throws<ArgumentException>(() => framer.WriteMessage(Segments.Of(bytes[..1], bytes[1..]), output));
        Assert.Equal(0, output.WrittenCount);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Writes_a_message_that_only_ends_like_the_delimiter_does_when_that_is_safe()
    {
        // "xa" + "abab": the first "abab" starts after the message, so the message reads back whole.
        var framer = new DelimiterFramer("abab");
        var data = Framed.Frame(framer, "xa"u8.ToArray());

        Assert.Equal(["xa"], (await Framed.ReadAsync(framer, data)).Texts);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_delimiter_may_be_any_bytes()
    {
        var framer = new DelimiterFramer([0, 255]);
        var data = Framed.Frame(framer, [1, 2], [255, 0]);

        var outcome = await Framed.ReadAsync(framer, Framed.ByteByByte(data));

        Assert.Equal([[1, 2], [255, 0]], outcome.Messages);
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData(64)]
    [InlineData(65)]
    [InlineData(200)]
    public async Task A_long_delimiter_is_found_however_the_input_is_split(int length)
    {
        // Up to 64 bytes the search checks the seams between segments itself; longer delimiters take another path.
        var delimiter = Enumerable.Range(0, length).Select(i => (byte)('a' + (i % 3))).ToArray();
        var framer = new DelimiterFramer(delimiter);
        var data = Framed.Frame(framer, "one"u8.ToArray(), "two"u8.ToArray());

        foreach (var chunks in Framed.EverySplit(data).Append(Framed.ByteByByte(data)))
        {
            Assert.Equal(["one", "two"], (await Framed.ReadAsync(framer, chunks)).Texts);
        }
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task An_empty_delimiter_is_refused()
    {
        Assert.Throws<ArgumentException>(() => new DelimiterFramer(string.Empty));
        Assert.Throws<ArgumentException>(() => new DelimiterFramer(ReadOnlySpan<byte>.Empty));
        return Task.CompletedTask;
    }
}
