using System.Buffers;
using System.Text;
using Sockeye.Framing;
using Sockeye.Tests.Framing;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Messaging;

/// <summary>The JSON codec on its own: framing, the maximum, and what it makes of payloads that are not its type.</summary>
public class JsonMessageCodecTests
{
    private static readonly JsonMessageCodec<DeviceMessage> s_codec = HelloHandler.Codec;

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Messages_read_back_as_written_however_the_bytes_are_split()
    {
        DeviceMessage[] sent = [new("hello", "d1"), new("reading", "d1", 21.5), new("note", Text: "\"quoted\" \u00e9\n")];
        var output = new ArrayBufferWriter<byte>();
        foreach (var message in sent)
        {
            s_codec.WriteMessage(message, output);
        }

        var bytes = output.WrittenSpan.ToArray();
        Assert.Equal("{\"type\":\"hello\",\"device\":\"d1\"}".Length, BitConverter.ToInt32([.. bytes[..4].Reverse()]));
        foreach (var chunks in Framed.EverySplit(bytes).Append(Framed.ByteByByte(bytes)))
        {
            var received = new List<DeviceMessage>();
            await foreach (var message in new ScriptedPipeReader(chunks).ReadMessagesAsync(s_codec, TestContext.Current.CancellationToken))
            {
                received.Add(message);
            }

            Assert.Equal(sent, received);
        }
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("{\"type\":")]
    [InlineData("{\"type\":\"a\"} {\"type\":\"b\"}")]
    [InlineData("{\"type\":\"a\"}x")]
    [InlineData("null")]
    [InlineData("[1,2]")]
    [InlineData("{\"type\":5}")]
    [InlineData("")]
    public async Task A_payload_that_is_not_one_message_is_a_protocol_error(string payload)
    {
        var error = await Assert.ThrowsAsync<ProtocolException>(() => ReadAsync(Frame(payload)));

        Assert.Equal(ConnectionEndReason.ProtocolError, error.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_length_over_the_maximum_is_refused_as_soon_as_the_header_arrives()
    {
        var codec = new JsonMessageCodec<DeviceMessage>(DeviceJson.Default.DeviceMessage) { MaxMessageSize = 64 };

        var error = await Assert.ThrowsAsync<ProtocolException>(() => ReadAsync([0, 0, 0, 65], codec));

        Assert.Equal(ConnectionEndReason.MessageTooLarge, error.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_large_message_leaves_nothing_behind_for_the_next()
    {
        var large = new DeviceMessage("note", Text: new string('x', 200_000));
        var output = new ArrayBufferWriter<byte>();
        s_codec.WriteMessage(large, output);
        s_codec.WriteMessage(new DeviceMessage("hello"), output);

        var received = new List<DeviceMessage>();
        await foreach (var message in new ScriptedPipeReader([output.WrittenSpan.ToArray()]).ReadMessagesAsync(s_codec, TestContext.Current.CancellationToken))
        {
            received.Add(message);
        }

        Assert.Equal([large, new DeviceMessage("hello")], received);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_message_that_fails_part_way_through_serializing_leaves_nothing_and_the_next_is_written_whole()
    {
        // The device's name is long enough that the JSON writer hands bytes on before it reaches the infinity, which
        // System.Text.Json refuses to write.
        var output = new ArrayBufferWriter<byte>();
        s_codec.WriteMessage(new DeviceMessage("hello", "d1"), output);
        var before = output.WrittenSpan.ToArray();

        var error = Assert.Throws<ArgumentException>(() => s_codec.WriteMessage(new DeviceMessage("reading", new string('d', 20_000), double.PositiveInfinity), output));
        Assert.Contains("infinity", error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(before, output.WrittenSpan.ToArray());

        s_codec.WriteMessage(new DeviceMessage("ack", "d1"), output);
        var received = new List<DeviceMessage>();
        await foreach (var message in new ScriptedPipeReader([output.WrittenSpan.ToArray()]).ReadMessagesAsync(s_codec, TestContext.Current.CancellationToken))
        {
            received.Add(message);
        }

        Assert.Equal([new DeviceMessage("hello", "d1"), new DeviceMessage("ack", "d1")], received);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task A_null_message_cannot_be_written()
    {
        Assert.Throws<ArgumentException>(() => s_codec.WriteMessage(null!, new ArrayBufferWriter<byte>()));
        return Task.CompletedTask;
    }

    private static byte[] Frame(string payload)
    {
        var bytes = Encoding.UTF8.GetBytes(payload);
        return [0, 0, (byte)(bytes.Length >> 8), (byte)bytes.Length, .. bytes];
    }

    private static async Task ReadAsync(byte[] data, JsonMessageCodec<DeviceMessage>? codec = null)
    {
        await foreach (var _ in new ScriptedPipeReader([data]).ReadMessagesAsync(codec ?? s_codec, TestContext.Current.CancellationToken))
        {
        }
    }
}
