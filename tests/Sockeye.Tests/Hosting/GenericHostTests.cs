using System.Diagnostics.Metrics;
using System.Net;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Sockeye.Handlers;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Hosting;

public partial class GenericHostTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact(Timeout = Timeouts.Network)]
    public async Task The_host_runs_a_handler_from_dependency_injection_on_the_configured_endpoint()
    {
        var logs = new RecordingLoggerProvider();
        using var host = Build(
            new() { ["Sockeye:Endpoints:Main:Url"] = "tcp://127.0.0.1:0", ["Sockeye:MaxMessageSize"] = "4096" },
            services =>
            {
                services.AddSingleton(new Greeting("hello from DI"));
                services.AddSockeye<GreetingHandler>();
            },
            logs);

        await host.StartAsync(Token);
        using (var client = await TestClient.ConnectAsync(EndPoint(host)))
        {
            Assert.Equal("hello from DI; max 4096", await client.ReceiveTextToEndAsync());
        }

        Assert.Contains(logs.Records, record => record.EventId.Id == 1 && record.Message.StartsWith("Listening on 127.0.0.1:", StringComparison.Ordinal));
        await host.StopAsync(Token);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task An_endpoint_runs_the_handler_its_configuration_names()
    {
        using var host = Build(
            new()
            {
                ["Sockeye:Endpoints:Greeter:Url"] = "tcp://127.0.0.1:0",
                ["Sockeye:Endpoints:Echo:Url"] = "tcp://127.0.0.1:0",
                ["Sockeye:Endpoints:Echo:Handler"] = "echo",
            },
            services =>
            {
                services.AddSingleton(new Greeting("hi"));
                services.AddSockeye<GreetingHandler>().AddHandler<EchoHandler>("echo");
            });
        await host.StartAsync(Token);
        var server = host.Services.GetRequiredService<SocketServer>();

        // Sections are read in key order: Echo, then Greeter.
        using (var echo = await TestClient.ConnectAsync(server.EndPoints[0]))
        {
            await echo.SendAsync("ping");
            echo.HalfClose();
            Assert.Equal("ping", await echo.ReceiveTextToEndAsync());
        }

        using (var greeter = await TestClient.ConnectAsync(server.EndPoints[1]))
        {
            Assert.StartsWith("hi", await greeter.ReceiveTextToEndAsync(), StringComparison.Ordinal);
        }

        await host.StopAsync(Token);
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("Sockeye:MaxMessageSize", "0", "Sockeye:MaxMessageSize must be greater than zero. It is 0.")]
    [InlineData("Sockeye:ShutdownTimeout", "-5", "Sockeye:ShutdownTimeout must not be negative. It is -5.")]
    [InlineData("Sockeye:DrainDelay", "5000000", "Sockeye:DrainDelay must be at most 4294967 seconds (about 49.7 days), the longest a timer waits. It is 5000000.")]
    [InlineData("Sockeye:IdleTimeout", "5000000", "Sockeye:IdleTimeout must be at most 4294967 seconds (about 49.7 days), the longest a timer waits; Infinite (Timeout.InfiniteTimeSpan) turns it off. It is 5000000.")]
    [InlineData("Sockeye:Endpoints:Main:Handler", "nobody", "Sockeye:Endpoints:Main:Handler: no handler is registered as 'nobody'; register one with AddSockeye(...).AddHandler<THandler>(\"nobody\").")]
    public async Task Bad_configuration_stops_the_host_from_starting_with_one_clear_error(string key, string value, string expected)
    {
        var handlerCreated = false;
        var otherService = new StartRecorder();
        using var host = Build(
            new() { ["Sockeye:Endpoints:Main:Url"] = "tcp://127.0.0.1:0", [key] = value },
            services =>
            {
                services.AddSingleton<IHostedService>(otherService);
                services.AddSockeye(_ =>
                {
                    handlerCreated = true;
                    return new EchoHandler();
                });
            });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(Token));

        Assert.Equal(expected, error.Message);
        Assert.False(handlerCreated, "Nothing of the server should be created when its options are bad.");
        Assert.False(otherService.Started, "The host should not start at all, not even the services registered before Sockeye.");
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_host_with_no_endpoint_says_how_to_add_one()
    {
        using var host = Build([], services => services.AddSockeye<EchoHandler>());

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(Token));

        Assert.StartsWith("Sockeye has no endpoint to listen on: add one to the configuration, such as \"Sockeye\": { \"Endpoints\":", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Endpoints_can_be_added_in_code_too()
    {
        using var host = Build([], services => services.AddSockeye<EchoHandler>().Configure(options => options.Listen(IPAddress.Loopback, 0)));

        await host.StartAsync(Token);

        Assert.Single(host.Services.GetRequiredService<SocketServer>().EndPoints);
        await host.StopAsync(Token);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Stopping_the_host_drains_connections_gracefully()
    {
        var served = new TaskCompletionSource<Connection>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var host = Build(Listening(), services => services.AddSockeye(_ => ConnectionHandler.Create(async connection =>
        {
            served.TrySetResult(connection);
            await connection.CloseRequested.WhenCanceled();
            await connection.Transport.Output.WriteAsync("goodbye"u8.ToArray());
        })));
        await host.StartAsync(Token);
        var client = await TestClient.ConnectAsync(EndPoint(host));
        var connection = await served.Task.WithTestTimeout();

        var stopping = host.StopAsync(Token);

        Assert.Equal("goodbye", await client.ReceiveTextToEndAsync());
        client.Dispose();
        await stopping.WithTestTimeout();
        Assert.Equal(ConnectionEndReason.ServerClosed, connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task The_drain_timeout_runs_on_the_time_provider_from_dependency_injection()
    {
        var clock = new FakeTimeProvider();
        var closing = new TaskCompletionSource<Connection>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var host = Build(
            Listening(("Sockeye:ShutdownTimeout", "30")),
            services =>
            {
                services.AddSingleton<TimeProvider>(clock);
                services.Configure<HostOptions>(options => options.ShutdownTimeout = Timeout.InfiniteTimeSpan);
                services.AddSockeye(_ => ConnectionHandler.Create(async connection =>
                {
                    // A handler that hears the stop and carries on regardless.
                    await connection.CloseRequested.WhenCanceled();
                    closing.TrySetResult(connection);
                    await connection.ConnectionClosed.WhenCanceled();
                }));
            });
        await host.StartAsync(Token);
        using var client = await TestClient.ConnectAsync(EndPoint(host));

        var stopping = host.StopAsync(Token);
        var connection = await closing.Task.WithTestTimeout();
        clock.Advance(TimeSpan.FromSeconds(29));
        Assert.False(stopping.IsCompleted);
        clock.Advance(TimeSpan.FromSeconds(1));

        await stopping.WithTestTimeout();
        Assert.Equal(ConnectionEndReason.ServerShutdown, connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task When_the_host_stops_waiting_what_is_left_is_aborted_at_once()
    {
        var served = new TaskCompletionSource<Connection>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var host = Build(
            Listening(("Sockeye:ShutdownTimeout", "3600")),
            services => services.AddSockeye(_ => ConnectionHandler.Create(async connection =>
            {
                served.TrySetResult(connection);
                await connection.ConnectionClosed.WhenCanceled();
            })));
        await host.StartAsync(Token);
        using var client = await TestClient.ConnectAsync(EndPoint(host));
        var connection = await served.Task.WithTestTimeout();

        // The host's token: canceled when its own shutdown timeout runs out, or by the caller, as here.
        await host.StopAsync(new CancellationToken(canceled: true)).WithTestTimeout();

        Assert.Equal(ConnectionEndReason.ServerShutdown, connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task The_meter_comes_from_the_hosts_meter_factory()
    {
        using var host = Build(Listening(), services => services.AddSockeye<EchoHandler>());
        using var accepted = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "Sockeye", "sockeye.accepted_connections");
        await host.StartAsync(Token);

        using (await TestClient.ConnectAsync(EndPoint(host)))
        {
            await accepted.WaitForMeasurementsAsync(1, Token);
        }

        Assert.Equal(1, accepted.GetMeasurementSnapshot().EvaluateAsCounter());
        await host.StopAsync(Token);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_handlers_injected_logger_writes_in_the_connections_scope()
    {
        var logs = new RecordingLoggerProvider();
        using var host = Build(Listening(), services => services.AddSockeye<LoggingHandler>(), logs);
        await host.StartAsync(Token);

        using (var client = await TestClient.ConnectAsync(EndPoint(host)))
        {
            await client.ReceiveToEndAsync();
        }

        var line = await logs.WaitForAsync(record => record.Message == "handled");
        var scope = Assert.Single(line.Scopes.OfType<IReadOnlyList<KeyValuePair<string, object?>>>());
        Assert.Equal(new KeyValuePair<string, object?>("ConnectionId", 1L), Assert.Single(scope));
        await host.StopAsync(Token);
    }

    private static Dictionary<string, string?> Listening(params (string Key, string Value)[] more)
    {
        var values = new Dictionary<string, string?> { ["Sockeye:Endpoints:Main:Url"] = "tcp://127.0.0.1:0" };
        foreach (var (key, value) in more)
        {
            values[key] = value;
        }

        return values;
    }

    private static IHost Build(Dictionary<string, string?> configuration, Action<IServiceCollection> configureServices, RecordingLoggerProvider? logs = null)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(configuration);
        builder.Logging.SetMinimumLevel(LogLevel.Trace).AddProvider(logs ?? new RecordingLoggerProvider());
        configureServices(builder.Services);
        return builder.Build();
    }

    private static EndPoint EndPoint(IHost host) => host.Services.GetRequiredService<SocketServer>().EndPoints[0];

    private sealed record Greeting(string Text);

    private sealed partial class LoggingHandler(ILogger<LoggingHandler> logger) : ConnectionHandler
    {
        public override Task OnConnectedAsync(Connection connection)
        {
            Handled(logger);
            return Task.CompletedTask;
        }

        [LoggerMessage(Level = LogLevel.Information, Message = "handled")]
        private static partial void Handled(ILogger logger);
    }

    private sealed class StartRecorder : IHostedService
    {
        public bool Started { get; private set; }

        public Task StartAsync(CancellationToken cancellationToken)
        {
            Started = true;
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>A handler with a dependency, as users write them: greets, says the message limit, and closes.</summary>
    private sealed class GreetingHandler(Greeting greeting) : ConnectionHandler
    {
        public override async Task OnConnectedAsync(Connection connection) =>
            await connection.Transport.Output.WriteAsync(Encoding.UTF8.GetBytes($"{greeting.Text}; max {connection.MaxMessageSize}"));
    }
}
