using System.Buffers;
using Sockeye.Framing;

namespace Sockeye.Tests.Framing;

public class LengthPrefixFramerTests
{
    private readonly LengthPrefixFramer _framer = new();

    [Fact(Timeout = Timeouts.Fast)]
    public Task Writes_a_big_endian_unsigned_length_then_the_payload()
    {
        Assert.Equal([0, 0, 0, 5, .. "hello"u8], Framed.Frame(_framer, "hello"u8.ToArray()));
        Assert.Equal([0, 0, 1, 0, .. new byte[256]], Framed.Frame(_framer, new byte[256]));
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task A_length_over_the_maximum_is_refused_as_soon_as_the_header_arrives()
    {
        // No payload has arrived: the server must not buffer a megabyte to find out what the header already says.
        var error = Assert.Throws<ProtocolException>(() => Framed.Parse(_framer, [0, 0, 0, 65], maxMessageSize: 64));

        Assert.Equal(ConnectionEndReason.MessageTooLarge, error.EndReason);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task The_largest_length_a_header_can_say_waits_for_its_payload_when_allowed()
    {
        var parsed = Framed.Parse(_framer, [255, 255, 255, 255, 1], maxMessageSize: long.MaxValue);

        Assert.Equal(new Framed.Parsed(false, 0, 5, null), parsed);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_header_split_across_segments_is_read()
    {
        var outcome = await Framed.ReadAsync(_framer, [[0, 0], [0, 2, (byte)'h'], [(byte)'i']]);

        Assert.Equal(["hi"], outcome.Texts);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task Writes_a_message_of_several_segments_with_one_header()
    {
        var output = new ArrayBufferWriter<byte>();

        _framer.WriteMessage(Segments.Of("he", "llo"), output);

        Assert.Equal([0, 0, 0, 5, .. "hello"u8], output.WrittenSpan.ToArray());
        return Task.CompletedTask;
    }
}
