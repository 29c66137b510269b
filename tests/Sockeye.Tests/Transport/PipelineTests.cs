using System.Net;
using Sockeye.Handlers;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Transport;

public class PipelineTests
{
    [Fact(Timeout = Timeouts.Network)]
    public async Task Listener_layers_run_outermost_first_around_the_handler()
    {
        var order = new List<string>();
        var options = new SocketServerOptions();
        var listener = options.Listen(IPAddress.Loopback, 0);
        listener.Middleware.Add(next => async connection =>
        {
            order.Add("outer in");
            await next(connection);
            order.Add("outer out");
        });
        listener.Middleware.Add(next => async connection =>
        {
            order.Add("inner in");
            await next(connection);
            order.Add("inner out");
        });
        await using var server = new SocketServer(options, ConnectionHandler.Create(connection =>
        {
            order.Add("handler");
            return Task.CompletedTask;
        }));
        await server.StartAsync(TestContext.Current.CancellationToken);

        using var client = await TestClient.ConnectAsync(server.EndPoints[0]);
        await client.ReceiveToEndAsync();
        await server.StopAsync(TestContext.Current.CancellationToken);

        Assert.Equal(["outer in", "inner in", "handler", "inner out", "outer out"], order);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_listener_with_its_own_handler_uses_it()
    {
        var options = new SocketServerOptions();
        options.Listen(IPAddress.Loopback, 0);
        options.Listen(IPAddress.Loopback, 0).Handler = ConnectionHandler.Create(async connection =>
            await connection.Transport.Output.WriteAsync("second"u8.ToArray()));
        await using var server = new SocketServer(options, ConnectionHandler.Create(async connection =>
            await connection.Transport.Output.WriteAsync("first"u8.ToArray())));
        await server.StartAsync(TestContext.Current.CancellationToken);

        using var first = await TestClient.ConnectAsync(server.EndPoints[0]);
        using var second = await TestClient.ConnectAsync(server.EndPoints[1]);

        Assert.Equal("first", await first.ReceiveTextToEndAsync());
        Assert.Equal("second", await second.ReceiveTextToEndAsync());
        _ = new EchoHandler();
    }
}
