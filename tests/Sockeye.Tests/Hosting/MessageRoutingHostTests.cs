using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Sockeye.Framing;
using Sockeye.Messaging;
using Sockeye.Tests.Messaging;

namespace Sockeye.Tests.Hosting;

/// <summary>Routers whose handlers come from dependency injection, in the Generic Host.</summary>
public class MessageRoutingHostTests
{
    private static readonly JsonMessageCodec<DeviceMessage> s_codec = HelloHandler.Codec;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact(Timeout = Timeouts.Network)]
    public async Task Messages_are_routed_by_type_to_handlers_from_dependency_injection()
    {
        var temperatures = new Dictionary<string, double>();
        using var host = LoopbackHost.Build(services =>
        {
            services.AddSingleton(temperatures);
            services.AddSockeye(s_codec, (DeviceMessage message) => message.Type)
                .Map<HelloHandler>("hello")
                .Map("reading", provider => new ReadingHandler(provider.GetRequiredService<Dictionary<string, double>>()))
                .MapFallback<UnknownTypeHandler>()
                .OnError((connection, message, error) =>
                {
                    connection.WriteMessage(s_codec, new DeviceMessage("error", message.Device, Text: error.Message));
                    return ValueTask.FromResult(MessageErrorAction.Continue);
                });
        });
        await host.StartAsync(Token);

        using var socket = await LoopbackHost.ConnectAsync(host);
        await using var stream = new NetworkStream(socket);
        var output = new ArrayBufferWriter<byte>();
        foreach (var message in new DeviceMessage[] { new("hello", "d1"), new("reading", "d1", 20), new("reading", "d1"), new("reboot") })
        {
            s_codec.WriteMessage(message, output);
        }

        await stream.WriteAsync(output.WrittenMemory, Token);
        socket.Shutdown(SocketShutdown.Send);

        var replies = new List<DeviceMessage>();
        await foreach (var reply in PipeReader.Create(stream).ReadMessagesAsync(s_codec, Token))
        {
            replies.Add(reply);
        }

        Assert.Equal(
            [new("welcome", "d1"), new("ack", "d1"), new("error", "d1", Text: "A reading names its device and temperature."), new("error", Text: "unknown type 'reboot'")],
            replies);
        Assert.Equal(20, temperatures["d1"]);
        await host.StopAsync(Token);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Commands_are_routed_by_name_to_handlers_from_dependency_injection()
    {
        var lines = new LineFramer();
        using var host = LoopbackHost.Build(services => services
            .AddSockeyeCommands(lines, line => line.PositionOf((byte)' ') is { } space ? line.Slice(0, space) : line, ignoreCase: true)
            .Map<UpperCommand>("UPPER")
            .MapFallback(_ => MessageHandler.Create<ReadOnlySequence<byte>>((connection, _) =>
            {
                connection.WriteMessage(lines, "unknown"u8);
                return ValueTask.CompletedTask;
            })));
        await host.StartAsync(Token);

        using var socket = await LoopbackHost.ConnectAsync(host);
        await using var stream = new NetworkStream(socket);
        await socket.SendAsync("upper hello\nlower HELLO\n"u8.ToArray(), Token);
        socket.Shutdown(SocketShutdown.Send);
        using var reader = new StreamReader(stream);

        Assert.Equal("UPPER HELLO\nunknown\n", await reader.ReadToEndAsync(Token));
        await host.StopAsync(Token);
    }

    private sealed class UpperCommand : MessageHandler<ReadOnlySequence<byte>>
    {
        private static readonly LineFramer s_lines = new();

        public override ValueTask OnMessageAsync(Connection connection, ReadOnlySequence<byte> message)
        {
            connection.WriteMessage(s_lines, Encoding.ASCII.GetBytes(Encoding.ASCII.GetString(message.ToArray()).ToUpperInvariant()));
            return ValueTask.CompletedTask;
        }
    }
}
