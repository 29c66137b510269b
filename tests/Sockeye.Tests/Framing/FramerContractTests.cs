using System.Text;

namespace Sockeye.Tests.Framing;

/// <summary>What every framer promises, checked for each with input split every way a network can split it.</summary>
public class FramerContractTests
{
    private static readonly byte[][] s_messages = [.. new[] { "first", string.Empty, "third message" }.Select(Encoding.UTF8.GetBytes)];

    [Theory(Timeout = Timeouts.Fast)]
    [MemberData(nameof(Framed.Delimited), MemberType = typeof(Framed))]
    public async Task Reads_back_what_it_wrote_split_at_every_position(string name)
    {
        var framer = Framed.Create(name);
        var data = Framed.Frame(framer, s_messages);

        foreach (var chunks in Framed.EverySplit(data))
        {
            var outcome = await Framed.ReadAsync(framer, chunks);

            Assert.Null(outcome.Error);
            Assert.Equal(["first", string.Empty, "third message"], outcome.Texts);
        }
    }

    [Theory(Timeout = Timeouts.Fast)]
    [MemberData(nameof(Framed.Delimited), MemberType = typeof(Framed))]
    public async Task Reads_back_what_it_wrote_delivered_one_byte_at_a_time(string name)
    {
        var framer = Framed.Create(name);

        var outcome = await Framed.ReadAsync(framer, Framed.ByteByByte(Framed.Frame(framer, s_messages)));

        Assert.Null(outcome.Error);
        Assert.Equal(["first", string.Empty, "third message"], outcome.Texts);
    }

    [Theory(Timeout = Timeouts.Fast)]
    [MemberData(nameof(Framed.All), MemberType = typeof(Framed))]
    public async Task A_message_of_exactly_the_maximum_size_is_read(string name)
    {
        var framer = Framed.Create(name);
        var message = Framed.Repeat((byte)'x', 64);
        var data = Framed.Frame(framer, message);

        foreach (var chunks in Framed.EverySplit(data).Append(Framed.ByteByByte(data)))
        {
            var outcome = await Framed.ReadAsync(framer, chunks, maxMessageSize: 64);

            Assert.Null(outcome.Error);
            Assert.Equal(message, Assert.Single(outcome.Messages));
        }
    }

    [Theory(Timeout = Timeouts.Fast)]
    [MemberData(nameof(Framed.All), MemberType = typeof(Framed))]
    public async Task A_message_one_byte_over_the_maximum_is_too_large(string name)
    {
        var framer = Framed.Create(name);
        var data = Framed.Frame(framer, Framed.Repeat((byte)'x', 65));

        foreach (var chunks in Framed.EverySplit(data).Append(Framed.ByteByByte(data)))
        {
            var outcome = await Framed.ReadAsync(framer, chunks, maxMessageSize: 64);

            Assert.Empty(outcome.Messages);
            Assert.Equal(ConnectionEndReason.MessageTooLarge, outcome.Error?.EndReason);
        }
    }

    [Theory(Timeout = Timeouts.Fast)]
    [MemberData(nameof(Framed.Delimited), MemberType = typeof(Framed))]
    public async Task A_frame_cut_short_by_the_end_of_the_stream_is_a_protocol_error(string name)
    {
        var framer = Framed.Create(name);
        var whole = Framed.Frame(framer, "one"u8.ToArray());
        var cut = Framed.Frame(framer, "two"u8.ToArray());

        for (var length = 1; length < cut.Length; length++)
        {
            var outcome = await Framed.ReadAsync(framer, [whole, cut[..length]]);

            Assert.Equal(["one"], outcome.Texts);
            Assert.Equal(ConnectionEndReason.ProtocolError, outcome.Error?.EndReason);
            Assert.Contains($"{length} bytes into it", outcome.Error!.Message, StringComparison.Ordinal);
        }
    }

    [Theory(Timeout = Timeouts.Fast)]
    [MemberData(nameof(Framed.All), MemberType = typeof(Framed))]
    public async Task An_empty_stream_has_no_messages(string name)
    {
        var outcome = await Framed.ReadAsync(Framed.Create(name), Array.Empty<byte[]>());

        Assert.Null(outcome.Error);
        Assert.Empty(outcome.Messages);
    }
}
