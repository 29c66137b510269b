using System.Buffers;
using Sockeye.Framing;
using Sockeye.Messaging;
using Sockeye.Testing;

namespace Sockeye.Tests.Messaging;

/// <summary>The JSON codec and the keyed router together: typed messages routed by their "type" field.</summary>
public class JsonRoutingTests
{
    private static readonly JsonMessageCodec<DeviceMessage> s_codec = HelloHandler.Codec;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Typed_messages_are_routed_by_their_type_field_and_unknown_types_go_to_the_fallback()
    {
        var temperatures = new Dictionary<string, double>();
        await using var test = TestConnection.Start(Devices(temperatures));

        await test.SendMessageAsync(s_codec, new DeviceMessage("hello", "d1"), Token);
        await test.SendMessageAsync(s_codec, new DeviceMessage("reading", "d1", Celsius: 21.5), Token);
        await test.SendMessageAsync(s_codec, new DeviceMessage("reboot", "d1"), Token);

        Assert.Equal(new DeviceMessage("welcome", "d1"), await test.ReceiveMessageAsync(s_codec, Token));
        Assert.Equal(new DeviceMessage("ack", "d1"), await test.ReceiveMessageAsync(s_codec, Token));
        Assert.Equal(new DeviceMessage("error", Text: "unknown type 'reboot'"), await test.ReceiveMessageAsync(s_codec, Token));
        Assert.Equal(21.5, temperatures["d1"]);

        await test.CompleteSendingAsync();
        Assert.Null(await test.ReceiveMessageAsync(s_codec, Token));
        await test.Completion;
        Assert.Equal(ConnectionEndReason.ClientClosed, test.Connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_handler_that_throws_gets_an_error_reply_and_the_connection_goes_on_when_the_user_says_so()
    {
        var handler = RepliesOnError(MessageErrorAction.Continue);
        await using var test = TestConnection.Start(handler);

        await test.SendMessageAsync(s_codec, new DeviceMessage("reading", "d2"), Token);
        await test.SendMessageAsync(s_codec, new DeviceMessage("hello", "d2"), Token);

        Assert.Equal(new DeviceMessage("error", "d2", Text: "A reading names its device and temperature."), await test.ReceiveMessageAsync(s_codec, Token));
        Assert.Equal(new DeviceMessage("welcome", "d2"), await test.ReceiveMessageAsync(s_codec, Token));
        await test.CompleteSendingAsync();
        await test.Completion;
        Assert.Equal(ConnectionEndReason.ClientClosed, test.Connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_reply_the_codec_cannot_write_leaves_nothing_in_the_stream_and_the_replies_after_it_arrive_whole()
    {
        // 1e400 reads as an infinity, which the echo cannot write back: the handler throws from WriteMessage, the
        // error handler replies and goes on. The client must see that reply, framed, with no trace of the echo.
        var handler = new MessageConnectionHandler<DeviceMessage>(
            s_codec,
            new MessageRouter<DeviceMessage, string>(message => message.Type)
                .Map("echo", (connection, message) =>
                {
                    connection.WriteMessage(s_codec, message with { Device = new string('d', 20_000) });
                    return ValueTask.CompletedTask;
                })
                .Map("hello", new HelloHandler()))
        {
            OnError = (connection, message, error) =>
            {
                connection.WriteMessage(s_codec, new DeviceMessage("error", Text: error.GetType().Name));
                return ValueTask.FromResult(MessageErrorAction.Continue);
            },
        };
        await using var test = TestConnection.Start(handler);

        await test.SendAsync(Framed("""{"type":"echo","celsius":1e400}"""), Token);
        await test.SendMessageAsync(s_codec, new DeviceMessage("hello", "d4"), Token);

        Assert.Equal(new DeviceMessage("error", Text: nameof(ArgumentException)), await test.ReceiveMessageAsync(s_codec, Token));
        Assert.Equal(new DeviceMessage("welcome", "d4"), await test.ReceiveMessageAsync(s_codec, Token));
        await test.CompleteSendingAsync();
        Assert.Null(await test.ReceiveMessageAsync(s_codec, Token));
        await test.Completion;
        Assert.Equal(ConnectionEndReason.ClientClosed, test.Connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task By_default_a_handler_that_throws_ends_its_connection()
    {
        await using var test = TestConnection.Start(Devices(new Dictionary<string, double>()));

        await test.SendMessageAsync(s_codec, new DeviceMessage("hello", "d3"), Token);
        Assert.Equal(new DeviceMessage("welcome", "d3"), await test.ReceiveMessageAsync(s_codec, Token));
        await test.SendMessageAsync(s_codec, new DeviceMessage("reading", "d3"), Token);
        await test.SendMessageAsync(s_codec, new DeviceMessage("hello", "d3"), Token);
        await test.Completion;

        Assert.Equal(ConnectionEndReason.HandlerError, test.Connection.EndReason);
        Assert.IsType<ArgumentException>(test.HandlerException);

        // A fault, not a close: after what was sent before it, the client sees a reset, as over a socket.
        await Assert.ThrowsAsync<ConnectionResetException>(() => test.ReceiveMessageAsync(s_codec, Token));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task An_error_handler_may_still_end_the_connection()
    {
        var seen = new List<string>();
        var handler = new MessageConnectionHandler<DeviceMessage>(s_codec, Router(new Dictionary<string, double>()))
        {
            OnError = (_, message, _) =>
            {
                seen.Add(message.Type);
                return ValueTask.FromResult(MessageErrorAction.EndConnection);
            },
        };
        await using var test = TestConnection.Start(handler);

        await test.SendMessageAsync(s_codec, new DeviceMessage("reading"), Token);
        await test.Completion;

        Assert.Equal(["reading"], seen);
        Assert.Equal(ConnectionEndReason.HandlerError, test.Connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Without_a_fallback_an_unknown_type_is_the_clients_protocol_error()
    {
        var router = new MessageRouter<DeviceMessage, string>(message => message.Type).Map("hello", new HelloHandler());
        await using var test = TestConnection.Start(new MessageConnectionHandler<DeviceMessage>(s_codec, router));

        await test.SendMessageAsync(s_codec, new DeviceMessage("reboot"), Token);
        await test.Completion;

        Assert.Equal(ConnectionEndReason.ProtocolError, test.Connection.EndReason);
        Assert.IsType<ProtocolException>(test.HandlerException);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Malformed_json_ends_that_connection_as_a_protocol_error()
    {
        await using var test = TestConnection.Start(Devices(new Dictionary<string, double>()));

        await test.SendMessageAsync(s_codec, new DeviceMessage("hello", "d4"), Token);
        await test.SendAsync(new byte[] { 0, 0, 0, 5, (byte)'{', (byte)'"', (byte)'t', (byte)'y', (byte)'p' }, Token);
        await test.Completion;

        Assert.Equal(ConnectionEndReason.ProtocolError, test.Connection.EndReason);
        Assert.Equal(new DeviceMessage("welcome", "d4"), await test.ReceiveMessageAsync(s_codec, Token));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_message_without_its_type_goes_to_the_fallback_and_the_connection_goes_on()
    {
        // Was: the null key reached the route table, whose ArgumentNullException ended the connection as the server's fault.
        await using var test = TestConnection.Start(Devices(new Dictionary<string, double>()));

        await test.SendAsync(Framed("""{"device":"d5"}"""), Token);
        await test.SendMessageAsync(s_codec, new DeviceMessage("hello", "d5"), Token);

        Assert.Equal(new DeviceMessage("error", Text: "unknown type ''"), await test.ReceiveMessageAsync(s_codec, Token));
        Assert.Equal(new DeviceMessage("welcome", "d5"), await test.ReceiveMessageAsync(s_codec, Token));
        await test.CompleteSendingAsync();
        await test.Completion;
        Assert.Equal(ConnectionEndReason.ClientClosed, test.Connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Without_a_fallback_a_message_without_its_type_is_the_clients_protocol_error()
    {
        var router = new MessageRouter<DeviceMessage, string>(message => message.Type).Map("hello", new HelloHandler());
        await using var test = TestConnection.Start(new MessageConnectionHandler<DeviceMessage>(s_codec, router));

        await test.SendAsync(Framed("""{"type":null}"""), Token);
        await test.Completion;

        Assert.Equal(ConnectionEndReason.ProtocolError, test.Connection.EndReason);
        Assert.IsType<ProtocolException>(test.HandlerException);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task An_error_handler_that_replies_and_ends_the_connection_gets_its_reply_to_the_client_before_a_clean_close()
    {
        // Was: the connection ended with a reset, which threw the queued reply away: the client got nothing but the reset.
        var handler = RepliesOnError(MessageErrorAction.EndConnection);
        await using var server = await Sockeye.Tests.Infrastructure.TestServer.StartAsync(handler);
        using var client = await server.ConnectAsync();

        var request = new ArrayBufferWriter<byte>();
        s_codec.WriteMessage(new DeviceMessage("hello", "d6"), request);
        s_codec.WriteMessage(new DeviceMessage("reading", "d6"), request);
        await client.SendAsync(request.WrittenMemory);

        var expected = new ArrayBufferWriter<byte>();
        s_codec.WriteMessage(new DeviceMessage("welcome", "d6"), expected);
        s_codec.WriteMessage(new DeviceMessage("error", "d6", Text: "A reading names its device and temperature."), expected);
        Assert.Equal(expected.WrittenSpan.ToArray(), await client.ReceiveToEndAsync());
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Routes_are_mapped_before_the_first_message_and_once_per_key()
    {
        var router = new MessageRouter<DeviceMessage, string>(message => message.Type).Map("hello", new HelloHandler());

        Assert.Throws<ArgumentException>(() => router.Map("hello", new HelloHandler()));
        await router.OnMessageAsync(new Sockeye.Transport.InMemoryConnection(), new DeviceMessage("hello"));
        Assert.Throws<InvalidOperationException>(() => router.Map("ping", new HelloHandler()));
    }

    private static MessageRouter<DeviceMessage, string> Router(Dictionary<string, double> temperatures) =>
        new MessageRouter<DeviceMessage, string>(message => message.Type)
            .Map("hello", new HelloHandler())
            .Map("reading", new ReadingHandler(temperatures))
            .MapFallback(new UnknownTypeHandler());

    /// <summary>The devices' handler whose error handler replies with the error's message, then does <paramref name="action"/>.</summary>
    private static MessageConnectionHandler<DeviceMessage> RepliesOnError(MessageErrorAction action) =>
        new(s_codec, Router(new Dictionary<string, double>()))
        {
            OnError = (connection, message, error) =>
            {
                connection.WriteMessage(s_codec, new DeviceMessage("error", message.Device, Text: error.Message));
                return ValueTask.FromResult(action);
            },
        };

    /// <summary>A message as the codec frames it: a 4-byte big-endian length, then the JSON.</summary>
    private static byte[] Framed(string json)
    {
        var body = System.Text.Encoding.UTF8.GetBytes(json);
        var framed = new byte[4 + body.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(framed, body.Length);
        body.CopyTo(framed, 4);
        return framed;
    }

    private static MessageConnectionHandler<DeviceMessage> Devices(Dictionary<string, double> temperatures) => new(s_codec, Router(temperatures));
}
