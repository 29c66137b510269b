using Sockeye.Handlers;
using Sockeye.Tests.Infrastructure;
using Sockeye.Transport;
using Sockeye.Transport.Linux;
using Sockeye.Transport.Sockets;

namespace Sockeye.Tests.Transport;

/// <summary>
/// Which transport a server runs on. CI runs the socket-level tests twice, once on the machine's default and once
/// with SOCKEYE_TRANSPORT=sockets (.ci/run, docs/testing.md); the environment test here is what proves each pass ran
/// on the transport it names.
/// </summary>
public class TransportSelectionTests
{
    [Fact(Timeout = Timeouts.Network)]
    public async Task Servers_run_on_the_transport_SOCKEYE_TRANSPORT_names()
    {
        var named = Environment.GetEnvironmentVariable(TransportSelection.EnvironmentVariable);
        var expected = TransportSelection.Parse(named) ?? TransportSelection.Default;

        await AssertEchoesOnAsync(expected, configure: null);
    }

    [Theory(Timeout = Timeouts.Network)]
    [InlineData(nameof(TransportKind.Sockets))]
    [InlineData(nameof(TransportKind.Linux))]
    public async Task A_server_runs_on_the_transport_its_options_ask_for(string name)
    {
        var kind = Enum.Parse<TransportKind>(name);
        Assert.SkipWhen(kind == TransportKind.Linux && !LinuxTransport.IsSupported, "The epoll transport runs on Linux only.");

        await AssertEchoesOnAsync(kind, options => options.Transport = kind);
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData(null, null)]
    [InlineData("", null)]
    [InlineData("sockets", nameof(TransportKind.Sockets))]
    [InlineData(" Sockets ", nameof(TransportKind.Sockets))]
    [InlineData("LINUX", nameof(TransportKind.Linux))]
    public Task The_operator_names_a_transport_or_none(string? value, string? expected)
    {
        Assert.Equal(expected, TransportSelection.Parse(value)?.ToString());
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("epoll")]
    [InlineData("socket")]
    public Task An_unknown_transport_is_one_clear_error(string value)
    {
        var error = Assert.Throws<InvalidOperationException>(() => TransportSelection.Resolve(requested: null, environment: value));

        Assert.Equal(
            $"SOCKEYE_TRANSPORT={value} is not a transport: use sockets (System.Net.Sockets) or linux (Sockeye's epoll transport), or leave it unset.",
            error.Message);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task The_options_choice_wins_over_the_environment()
    {
        Assert.Equal(TransportKind.Sockets, TransportSelection.Resolve(TransportKind.Sockets, environment: "linux"));
        return Task.CompletedTask;
    }

    /// <summary>An echo over a server on <paramref name="expected"/>, whose accepted connection is that transport's own type.</summary>
    private static async Task AssertEchoesOnAsync(TransportKind expected, Action<SocketServerOptions>? configure)
    {
        var accepted = new TaskCompletionSource<Type>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(
            async connection =>
            {
                accepted.TrySetResult(connection.GetType());
                await new EchoHandler().OnConnectedAsync(connection);
            },
            configure);

        Assert.Equal(expected, server.Server.TransportKind);
        using var client = await server.ConnectAsync();
        await client.SendAsync("ping");
        Assert.Equal("ping"u8.ToArray(), await client.ReceiveExactlyAsync(4));
        var type = await accepted.Task.WaitAsync(TestContext.Current.CancellationToken);
        Assert.Equal(expected == TransportKind.Linux ? typeof(LinuxConnection) : typeof(SocketConnection), type);
    }
}
