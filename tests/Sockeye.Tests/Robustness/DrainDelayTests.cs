using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using Sockeye.Cli.Handlers;
using Sockeye.Handlers;
using Sockeye.Testing;
using Sockeye.Tests.Infrastructure;
using TestServer = Sockeye.Tests.Infrastructure.TestServer;

namespace Sockeye.Tests.Robustness;

/// <summary>
/// <see cref="SocketServerOptions.DrainDelay"/>: on stop the server reports that it is draining and serves as usual
/// for the delay, on the injected clock, before it stops accepting; <see cref="AgentCheckHandler"/> tells HAProxy.
/// </summary>
public class DrainDelayTests
{
    private static readonly TimeSpan s_delay = TimeSpan.FromSeconds(10);

    [Fact(Timeout = Timeouts.Network)]
    public async Task During_the_drain_delay_the_agent_says_drain_and_new_clients_are_still_served()
    {
        var clock = new FakeTimeProvider();
        var drainingSeen = new List<bool>();
        await using var server = await TestServer.StartAsync(
            async connection =>
            {
                lock (drainingSeen)
                {
                    drainingSeen.Add(connection.ServerDraining.IsCancellationRequested);
                }

                await new EofEchoHandler(HandlerOutput.Null).OnConnectedAsync(connection);
            },
            options =>
            {
                options.DrainDelay = s_delay;
                options.Listen(IPAddress.Loopback, 0).Handler = new AgentCheckHandler();
            },
            clock);
        var agent = (IPEndPoint)server.Server.EndPoints[1];
        Assert.Equal("ready\n", await TestClient.ExchangeAsync(agent));
        Assert.Equal("before<EOF>", await TestClient.ExchangeAsync(server.EndPoint, "before<EOF>"));

        var stopping = server.Server.StopAsync(TestContext.Current.CancellationToken);

        Assert.True(server.Server.Draining.IsCancellationRequested);
        Assert.Equal("drain\n", await TestClient.ExchangeAsync(agent));
        Assert.Equal("during<EOF>", await TestClient.ExchangeAsync(server.EndPoint, "during<EOF>"));
        clock.Advance(s_delay - TimeSpan.FromMilliseconds(1));
        Assert.Equal("still<EOF>", await TestClient.ExchangeAsync(server.EndPoint, "still<EOF>"));
        Assert.False(stopping.IsCompleted);
        await server.Logs.WaitForAsync(r => r.EventId.Id == 49 && r.Message.Contains("00:00:10", StringComparison.Ordinal));

        // The delay is over: the listeners close, and with no connection left the stop is done.
        clock.Advance(TimeSpan.FromMilliseconds(1));
        await stopping.WithTestTimeout();
        var refused = await Assert.ThrowsAsync<SocketException>(() => TestClient.ConnectAsync(server.EndPoint));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        Assert.Equal([false, true, true], drainingSeen);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Without_a_drain_delay_the_stop_reports_draining_and_stops_accepting_at_once()
    {
        await using var server = await TestServer.StartAsync(new EofEchoHandler(HandlerOutput.Null), timeProvider: new FakeTimeProvider());
        var draining = server.Server.Draining;
        Assert.False(draining.IsCancellationRequested);

        await server.Server.StopAsync(TestContext.Current.CancellationToken).WithTestTimeout();

        Assert.True(draining.IsCancellationRequested);
        await Assert.ThrowsAsync<SocketException>(() => TestClient.ConnectAsync(server.EndPoint));
        Assert.DoesNotContain(server.Logs.Records, r => r.EventId.Id == 49);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Canceling_the_stop_cuts_the_drain_delay_short()
    {
        await using var server = await TestServer.StartAsync(
            new EofEchoHandler(HandlerOutput.Null), options => options.DrainDelay = s_delay, new FakeTimeProvider());
        using var now = new CancellationTokenSource();

        var stopping = server.Server.StopAsync(now.Token);
        Assert.False(stopping.IsCompleted);
        await now.CancelAsync();

        await stopping.WithTestTimeout();
        await Assert.ThrowsAsync<SocketException>(() => TestClient.ConnectAsync(server.EndPoint));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_test_connection_drains_for_the_delay_before_it_asks_the_handler_to_close()
    {
        var clock = new FakeTimeProvider();
        var options = new SocketServerOptions { DrainDelay = s_delay };
        await using var test = TestConnection.Start(ConnectionHandler.Create(connection => connection.CloseRequested.WhenCanceled()), options, clock);

        var stopping = test.StopServerAsync();

        Assert.True(test.Connection.ServerDraining.IsCancellationRequested);
        Assert.False(test.Connection.CloseRequested.IsCancellationRequested);
        clock.Advance(s_delay);
        await stopping.WithTestTimeout();
        Assert.Equal(ConnectionEndReason.ServerClosed, test.Connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task The_agent_says_ready_on_one_line_and_closes()
    {
        await using var test = TestConnection.Start(new AgentCheckHandler());

        Assert.Equal("ready\n", System.Text.Encoding.ASCII.GetString(await test.ReceiveToEndAsync(TestContext.Current.CancellationToken)));
        await test.Completion.WithTestTimeout();
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData(-1000)]
    [InlineData(null)]
    public Task A_negative_or_infinite_drain_delay_is_refused(int? milliseconds)
    {
        var options = new SocketServerOptions { DrainDelay = milliseconds is { } ms ? TimeSpan.FromMilliseconds(ms) : Timeout.InfiniteTimeSpan };
        options.Listen(IPAddress.Loopback, 0);

        var error = Assert.Throws<ArgumentOutOfRangeException>(options.Validate);

        Assert.Equal(nameof(SocketServerOptions.DrainDelay), error.ParamName);
        return Task.CompletedTask;
    }
}
