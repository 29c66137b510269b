using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Json;
using Sockeye.Framing;
using Sockeye.Messaging;
using Sockeye.Testing;
using Sockeye.Tests.Infrastructure;
using TestServer = Sockeye.Tests.Infrastructure.TestServer;

namespace Sockeye.Tests.Messaging;

/// <summary>
/// A message framed whole whose payload does not parse: the reader skips its frame
/// (<see cref="ProtocolException.InvalidMessage"/>), and <see cref="MessageConnectionHandler{TMessage}.OnInvalidMessage"/>
/// may reply and go on.
/// </summary>
public class InvalidMessageTests
{
    private static readonly JsonMessageCodec<DeviceMessage> s_codec = HelloHandler.Codec;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact(Timeout = Timeouts.Fast)]
    public Task Only_InvalidMessage_makes_an_exception_that_says_its_message_was_skipped()
    {
        var inner = new FormatException("bad");
        var invalid = ProtocolException.InvalidMessage("not a message", inner);

        Assert.True(invalid.MessageSkipped);
        Assert.Equal(ConnectionEndReason.ProtocolError, invalid.EndReason);
        Assert.Equal("not a message", invalid.Message);
        Assert.Same(inner, invalid.InnerException);
        Assert.True(ProtocolException.InvalidMessage("no inner").MessageSkipped);
        Assert.Null(ProtocolException.InvalidMessage("no inner").InnerException);
        Assert.False(ProtocolException.MessageTooLarge(10).MessageSkipped);
        Assert.False(new ProtocolException("malformed").MessageSkipped);
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("{\"type\":")]
    [InlineData("{\"type\":\"a\"} {\"type\":\"b\"}")]
    [InlineData("null")]
    [InlineData("[1,2]")]
    [InlineData("")]
    public Task The_json_codec_skips_the_whole_frame_of_a_payload_that_does_not_deserialize(string payload)
    {
        var input = new ReadOnlySequence<byte>([.. Framed(payload), .. Framed("""{"type":"hello"}""")]);
        var consumed = input.Start;
        var examined = input.Start;

        var error = Assert.Throws<ProtocolException>(() => s_codec.TryParseMessage(input, 1024, ref consumed, ref examined, out _));

        Assert.True(error.MessageSkipped);
        Assert.Equal(ConnectionEndReason.ProtocolError, error.EndReason);
        Assert.Equal(4 + Encoding.UTF8.GetByteCount(payload), input.Slice(input.Start, consumed).Length);
        Assert.True(s_codec.TryParseMessage(input.Slice(consumed), 1024, ref consumed, ref examined, out var next));
        Assert.Equal(new DeviceMessage("hello"), next);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task A_length_over_the_maximum_is_not_a_message_the_codec_skips()
    {
        var input = new ReadOnlySequence<byte>([0, 0, 0, 65]);
        var consumed = input.Start;
        var examined = input.Start;

        var error = Assert.Throws<ProtocolException>(() => s_codec.TryParseMessage(input, 64, ref consumed, ref examined, out _));

        Assert.False(error.MessageSkipped);
        Assert.Equal(ConnectionEndReason.MessageTooLarge, error.EndReason);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Over_a_socket_an_invalid_message_gets_the_error_reply_in_order_and_the_device_stays_connected()
    {
        var errors = new List<ProtocolException>();
        var tracker = new ConnectionTracker(Devices((connection, error) =>
        {
            errors.Add(error);
            connection.WriteMessage(s_codec, new DeviceMessage("error", Text: "malformed message"));
            return ValueTask.FromResult(MessageErrorAction.Continue);
        }));
        await using var server = await TestServer.StartAsync(tracker);
        using var device = await server.ConnectAsync();

        // In one write: the three replies are batched, and leave together once no whole message is left.
        await device.SendAsync(Frames("""{"type":"hello","device":"d1"}""", """{"type":""", """{"type":"hello","device":"d2"}"""));

        Assert.Equal(
            [new DeviceMessage("welcome", "d1"), new DeviceMessage("error", Text: "malformed message"), new DeviceMessage("welcome", "d2")],
            await ReceiveAsync(device, 3));
        var error = Assert.Single(errors);
        Assert.True(error.MessageSkipped);
        Assert.IsAssignableFrom<JsonException>(error.InnerException);

        // Still connected: the next message is answered.
        await device.SendAsync(Frames("""{"type":"hello","device":"d3"}"""));
        Assert.Equal([new DeviceMessage("welcome", "d3")], await ReceiveAsync(device, 1));

        device.HalfClose();
        Assert.Empty(await device.ReceiveToEndAsync());
        var connection = Assert.Single(tracker.Connections);
        await connection.WaitClosedAsync();
        Assert.Equal(ConnectionEndReason.ClientClosed, connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Without_OnInvalidMessage_an_invalid_message_still_ends_the_connection_with_a_protocol_error()
    {
        var tracker = new ConnectionTracker(Devices(onInvalidMessage: null));
        await using var server = await TestServer.StartAsync(tracker);
        using var device = await server.ConnectAsync();

        await device.SendAsync(Frames("""{"type":"hello","device":"d1"}""", """{"type":""", """{"type":"hello","device":"d2"}"""));

        Assert.Equal(Frames("""{"type":"welcome","device":"d1"}"""), await device.ReceiveToEndAsync());
        var connection = Assert.Single(tracker.Connections);
        await connection.WaitClosedAsync();
        Assert.Equal(ConnectionEndReason.ProtocolError, connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task EndConnection_closes_cleanly_after_the_error_reply_and_reads_nothing_after_the_invalid_message()
    {
        var tracker = new ConnectionTracker(Devices((connection, _) =>
        {
            connection.WriteMessage(s_codec, new DeviceMessage("error", Text: "malformed message"));
            return ValueTask.FromResult(MessageErrorAction.EndConnection);
        }));
        await using var server = await TestServer.StartAsync(tracker);
        using var device = await server.ConnectAsync();

        await device.SendAsync(Frames("""{"type":"hello","device":"d1"}""", "[1,2]", """{"type":"hello","device":"d2"}"""));

        // A clean close (a reset would make the read throw), after both replies; the message after the bad one is not answered.
        Assert.Equal(
            Frames("""{"type":"welcome","device":"d1"}""", """{"type":"error","text":"malformed message"}"""),
            await device.ReceiveToEndAsync());
        var connection = Assert.Single(tracker.Connections);
        await connection.WaitClosedAsync();
        Assert.Equal(ConnectionEndReason.ProtocolError, connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_message_over_the_maximum_never_reaches_OnInvalidMessage()
    {
        var called = 0;
        var codec = new JsonMessageCodec<DeviceMessage>(DeviceJson.Default.DeviceMessage) { MaxMessageSize = 64 };
        var handler = new MessageConnectionHandler<DeviceMessage>(codec, new HelloHandler())
        {
            OnInvalidMessage = (_, _) =>
            {
                called++;
                return ValueTask.FromResult(MessageErrorAction.Continue);
            },
        };
        await using var test = TestConnection.Start(handler);

        await test.SendAsync(Frames(new string(' ', 65) + """{"type":"hello"}"""), Token);
        await test.Completion;

        Assert.Equal(0, called);
        Assert.Equal(ConnectionEndReason.MessageTooLarge, test.Connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_reader_that_says_it_skipped_a_message_but_did_not_move_consumed_ends_the_connection()
    {
        // Taken at its word, the reader would be handed the same bytes again, for ever.
        var called = 0;
        var handler = new MessageConnectionHandler<string>(new StuckReader(), MessageHandler.Create<string>((_, _) => default))
        {
            OnInvalidMessage = (_, _) =>
            {
                called++;
                return ValueTask.FromResult(MessageErrorAction.Continue);
            },
        };
        await using var test = TestConnection.Start(handler);

        await test.SendAsync("anything\n");
        await test.Completion;

        Assert.Equal(0, called);
        Assert.Equal(ConnectionEndReason.ProtocolError, test.Connection.EndReason);
        Assert.True(Assert.IsType<ProtocolException>(test.HandlerException).MessageSkipped);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_loop_of_its_own_over_ReadMessagesAsync_ends_at_an_invalid_message_as_before()
    {
        var received = new List<DeviceMessage>();
        await using var test = TestConnection.Start(ConnectionHandler.Create(async connection =>
        {
            await foreach (var message in connection.ReadMessagesAsync(s_codec, Token))
            {
                received.Add(message);
            }
        }));

        await test.SendAsync(Frames("""{"type":"hello"}""", "null", """{"type":"reading"}"""), Token);
        await test.Completion;

        Assert.Equal([new DeviceMessage("hello")], received);
        Assert.Equal(ConnectionEndReason.ProtocolError, test.Connection.EndReason);
        Assert.True(Assert.IsType<ProtocolException>(test.HandlerException).MessageSkipped);
    }

    /// <summary>The devices' handler: "hello" answered with "welcome", with <paramref name="onInvalidMessage"/>.</summary>
    private static MessageConnectionHandler<DeviceMessage> Devices(InvalidMessageHandler? onInvalidMessage) =>
        new(s_codec, new MessageRouter<DeviceMessage, string>(message => message.Type).Map("hello", new HelloHandler()))
        {
            OnInvalidMessage = onInvalidMessage,
        };

    private static byte[] Framed(string json)
    {
        var payload = Encoding.UTF8.GetBytes(json);
        var framed = new byte[4 + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(framed, (uint)payload.Length);
        payload.CopyTo(framed, 4);
        return framed;
    }

    private static byte[] Frames(params string[] messages) => [.. messages.SelectMany(Framed)];

    private static async Task<List<DeviceMessage>> ReceiveAsync(TestClient client, int count)
    {
        var messages = new List<DeviceMessage>();
        for (var i = 0; i < count; i++)
        {
            var length = BinaryPrimitives.ReadUInt32BigEndian(await client.ReceiveExactlyAsync(4));
            messages.Add(JsonSerializer.Deserialize(await client.ReceiveExactlyAsync((int)length), DeviceJson.Default.DeviceMessage)!);
        }

        return messages;
    }

    /// <summary>Breaks the contract: says a message was skipped, but leaves consumed where it was.</summary>
    private sealed class StuckReader : IMessageReader<string>
    {
        public long? MaxMessageSize => null;

        public bool TryParseMessage(
            in ReadOnlySequence<byte> input,
            long maxMessageSize,
            ref SequencePosition consumed,
            ref SequencePosition examined,
            [MaybeNullWhen(false)] out string message) =>
            throw ProtocolException.InvalidMessage("Nothing here is a message.");
    }
}
