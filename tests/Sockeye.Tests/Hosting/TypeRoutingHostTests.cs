using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text.Json.Serialization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Sockeye.Framing;
using Sockeye.Hosting;
using Sockeye.Messaging;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Hosting;

/// <summary>
/// <c>AddSockeyeTypes</c>: polymorphic messages routed by their runtime type to typed handlers from dependency
/// injection, in the Generic Host.
/// </summary>
public class TypeRoutingHostTests
{
    private static readonly JsonMessageCodec<Probe> s_codec = new(ProbeJson.Default.Probe);

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact(Timeout = Timeouts.Network)]
    public async Task Each_type_goes_to_its_own_handler_from_dependency_injection_and_unmapped_types_to_the_fallback()
    {
        var log = new ProbeLog();
        using var host = LoopbackHost.Build(services =>
        {
            services.AddSingleton(log);
            services.AddSingleton(new Greeting("welcome"));
            services.AddSockeyeTypes(s_codec)
                .Map<ProbeReading, ProbeReadingHandler>()
                .Map<ProbeHello>(provider => new ProbeHelloHandler(provider.GetRequiredService<Greeting>()))
                .MapFallback<UnknownProbeHandler>();
        });
        await host.StartAsync(Token);

        var replies = await ExchangeAsync(host, new ProbeReading("d1", 21.5), new ProbeHello("d2"), new ProbeReboot("d3"), new ProbeReading("d1", 22));

        Assert.Equal([new ProbeReply("ack d1"), new ProbeReply("welcome d2"), new ProbeReply("unknown ProbeReboot"), new ProbeReply("ack d1")], replies);
        Assert.Equal([("d1", 21.5), ("d1", 22.0)], log.Readings);
        Assert.Same(host.Services.GetRequiredService<ProbeReadingHandler>(), log.HandledBy);
        await host.StopAsync(Token);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Without_a_fallback_an_unmapped_type_ends_its_connection_as_a_protocol_error()
    {
        var logs = new RecordingLoggerProvider();
        using var host = LoopbackHost.Build(services => AddReadings(services), logs);
        await host.StartAsync(Token);

        using var socket = await LoopbackHost.ConnectAsync(host);
        await socket.SendAsync(Frame(new ProbeReboot("d3")), Token);

        await logs.WaitForAsync(record => record.EventId.Id == 11 && record.Message.Contains(": ProtocolError;", StringComparison.Ordinal));
        await host.StopAsync(Token);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task OnError_can_reply_and_go_on_after_a_handler_throws()
    {
        using var host = LoopbackHost.Build(services => AddReadings(services).OnError((connection, message, error) =>
        {
            connection.WriteMessage(s_codec, new ProbeReply($"error in {message.GetType().Name}: {error.Message}"));
            return ValueTask.FromResult(MessageErrorAction.Continue);
        }));
        await host.StartAsync(Token);

        var replies = await ExchangeAsync(host, new ProbeReading("", 20), new ProbeReading("d1", 20));

        Assert.Equal([new ProbeReply("error in ProbeReading: A reading names its device."), new ProbeReply("ack d1")], replies);
        await host.StopAsync(Token);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task OnInvalidMessage_can_reply_to_malformed_JSON_and_go_on()
    {
        using var host = LoopbackHost.Build(services => AddReadings(services).OnInvalidMessage((connection, error) =>
        {
            connection.WriteMessage(s_codec, new ProbeReply("malformed"));
            return ValueTask.FromResult(MessageErrorAction.Continue);
        }));
        await host.StartAsync(Token);

        var malformed = "{\"type\":\"reading\",\"Device\":"u8.ToArray();
        var header = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(header, (uint)malformed.Length);
        var replies = await ExchangeAsync(host, [.. Frame(new ProbeReading("d1", 20)), .. header, .. malformed, .. Frame(new ProbeReading("d2", 21))]);

        Assert.Equal([new ProbeReply("ack d1"), new ProbeReply("malformed"), new ProbeReply("ack d2")], replies);
        await host.StopAsync(Token);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Mapping_a_type_twice_stops_the_host_from_starting_with_a_message_that_names_the_type()
    {
        using var host = LoopbackHost.Build(services => AddReadings(services)
            .Map<ProbeHello>(_ => new ProbeHelloHandler(new Greeting("hi")))
            .Map<ProbeReading>(provider => provider.GetRequiredService<ProbeReadingHandler>()));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync(Token));

        Assert.Contains($"'{typeof(ProbeReading)}' is mapped twice", error.Message, StringComparison.Ordinal);
        Assert.Contains("AddSockeyeTypes<Probe>()", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Adds the server with readings mapped to <see cref="ProbeReadingHandler"/>, and nothing else yet.</summary>
    private static SockeyeTypeRouterBuilder<Probe> AddReadings(IServiceCollection services) =>
        services.AddSingleton(new ProbeLog()).AddSockeyeTypes(s_codec).Map<ProbeReading, ProbeReadingHandler>();

    /// <summary>Sends the messages, ends the sending side, and reads every reply until the server closes.</summary>
    private static Task<List<Probe>> ExchangeAsync(IHost host, params Probe[] messages) => ExchangeAsync(host, Frame(messages));

    /// <summary>Sends the bytes, ends the sending side, and reads every reply until the server closes.</summary>
    private static async Task<List<Probe>> ExchangeAsync(IHost host, byte[] bytes)
    {
        using var socket = await LoopbackHost.ConnectAsync(host);
        await using var stream = new NetworkStream(socket);
        await stream.WriteAsync(bytes, Token);
        socket.Shutdown(SocketShutdown.Send);

        var replies = new List<Probe>();
        await foreach (var reply in PipeReader.Create(stream).ReadMessagesAsync(s_codec, Token))
        {
            replies.Add(reply);
        }

        return replies;
    }

    private static byte[] Frame(params Probe[] messages)
    {
        var output = new ArrayBufferWriter<byte>();
        foreach (var message in messages)
        {
            s_codec.WriteMessage(message, output);
        }

        return output.WrittenSpan.ToArray();
    }

    /// <summary>What the reading handler saw, and which instance it was.</summary>
    private sealed class ProbeLog
    {
        public List<(string Device, double Celsius)> Readings { get; } = [];

        public object? HandledBy { get; set; }
    }

    private sealed record Greeting(string Word);

    /// <summary>Typed for readings: no cast. Throws for a reading with no device, for OnError.</summary>
    private sealed class ProbeReadingHandler(ProbeLog log) : MessageHandler<ProbeReading>
    {
        public override ValueTask OnMessageAsync(Connection connection, ProbeReading message)
        {
            if (message.Device.Length == 0)
            {
                throw new ArgumentException("A reading names its device.");
            }

            lock (log)
            {
                log.Readings.Add((message.Device, message.Celsius));
                log.HandledBy = this;
            }

            connection.WriteMessage(s_codec, new ProbeReply($"ack {message.Device}"));
            return default;
        }
    }

    private sealed class ProbeHelloHandler(Greeting greeting) : MessageHandler<ProbeHello>
    {
        public override ValueTask OnMessageAsync(Connection connection, ProbeHello message)
        {
            connection.WriteMessage(s_codec, new ProbeReply($"{greeting.Word} {message.Device}"));
            return default;
        }
    }

    private sealed class UnknownProbeHandler : MessageHandler<Probe>
    {
        public override ValueTask OnMessageAsync(Connection connection, Probe message)
        {
            connection.WriteMessage(s_codec, new ProbeReply($"unknown {message.GetType().Name}"));
            return default;
        }
    }
}

[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(ProbeReading), "reading")]
[JsonDerivedType(typeof(ProbeHello), "hello")]
[JsonDerivedType(typeof(ProbeReboot), "reboot")]
[JsonDerivedType(typeof(ProbeReply), "reply")]
public abstract record Probe;

public sealed record ProbeReading(string Device, double Celsius) : Probe;

public sealed record ProbeHello(string Device) : Probe;

/// <summary>A type the base lists, so it reads, but no test maps: for the fallback.</summary>
public sealed record ProbeReboot(string Device) : Probe;

public sealed record ProbeReply(string Text) : Probe;

[JsonSerializable(typeof(Probe))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class ProbeJson : JsonSerializerContext;
