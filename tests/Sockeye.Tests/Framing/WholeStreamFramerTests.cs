using Sockeye.Framing;

namespace Sockeye.Tests.Framing;

public class WholeStreamFramerTests
{
    private readonly WholeStreamFramer _framer = new();

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Everything_until_the_end_of_the_stream_is_one_message()
    {
        var outcome = await Framed.ReadAsync(_framer, ["hel"u8.ToArray(), "lo\nworld"u8.ToArray()]);

        Assert.Null(outcome.Error);
        Assert.Equal(["hello\nworld"], outcome.Texts);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task More_than_the_maximum_is_refused_before_the_stream_ends()
    {
        var error = Assert.Throws<ProtocolException>(() => Framed.Parse(_framer, new byte[65], maxMessageSize: 64));

        Assert.Equal(ConnectionEndReason.MessageTooLarge, error.EndReason);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task Writes_messages_as_they_are()
    {
        Assert.Equal("onetwo"u8.ToArray(), Framed.Frame(_framer, "one"u8.ToArray(), "two"u8.ToArray()));
        return Task.CompletedTask;
    }
}
