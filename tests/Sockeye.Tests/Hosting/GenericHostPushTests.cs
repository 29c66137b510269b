using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Sockeye.Framing;
using Sockeye.Tests.Infrastructure;
using Sockeye.Tests.Messaging;

namespace Sockeye.Tests.Hosting;

/// <summary>Server push in the Generic Host (issue 14): the server and groups from dependency injection, push settings from configuration.</summary>
public partial class GenericHostTests
{
    private static readonly LineFramer s_lines = new();

    [Fact(Timeout = Timeouts.Network)]
    public async Task Services_reach_connections_through_the_server_and_a_keyed_group_from_dependency_injection()
    {
        using var host = Build(
            new()
            {
                ["Sockeye:Endpoints:Main:Url"] = "tcp://127.0.0.1:0",
                ["Sockeye:OutboundQueuePolicy"] = "DropNewest",
                ["Sockeye:MaxOutboundQueueSize"] = "65536",
            },
            services =>
            {
                services.AddKeyedSingleton<ConnectionGroup>("lobby");
                services.AddSockeye<LobbyHandler>();
            });
        await host.StartAsync(Token);
        var server = host.Services.GetRequiredService<SocketServer>();
        var lobby = host.Services.GetRequiredKeyedService<ConnectionGroup>("lobby");
        var options = host.Services.GetRequiredService<IOptions<SocketServerOptions>>().Value;
        Assert.Equal(OutboundQueuePolicy.DropNewest, options.OutboundQueuePolicy);
        Assert.Equal(65536, options.MaxOutboundQueueSize);

        using var alice = await TestClient.ConnectAsync(EndPoint(host));
        using var bob = await TestClient.ConnectAsync(EndPoint(host));
        await PushTests.WaitUntilAsync(() => lobby.Count == 2);

        // What a hosted service or a controller does: a broadcast to the group, and a send to one connection by id.
        Assert.Equal(2, await lobby.BroadcastMessageAsync(s_lines, "welcome"u8, cancellationToken: Token));
        var first = server.Connections.MinBy(connection => connection.Id)!;
        Assert.True(server.TryGetConnection(first.Id, out var found));
        Assert.Equal(SendStatus.Queued, await found.SendMessageAsync(s_lines, "just you"u8, Token));

        var (toFirst, toOther) = ((System.Net.IPEndPoint)first.RemoteEndPoint!).Port == ((System.Net.IPEndPoint)alice.Socket.LocalEndPoint!).Port
            ? (alice, bob)
            : (bob, alice);
        Assert.Equal("welcome\njust you\n", Encoding.ASCII.GetString(await toFirst.ReceiveExactlyAsync(17)));
        Assert.Equal("welcome\n", Encoding.ASCII.GetString(await toOther.ReceiveExactlyAsync(8)));
        await host.StopAsync(Token);
        Assert.Empty(lobby);
    }

    /// <summary>Puts each connection in the lobby until its client leaves.</summary>
    private sealed class LobbyHandler([FromKeyedServices("lobby")] ConnectionGroup lobby) : ConnectionHandler
    {
        public override async Task OnConnectedAsync(Connection connection)
        {
            lobby.Add(connection);
            await foreach (var _ in connection.ReadMessagesAsync(s_lines))
            {
            }
        }
    }
}
