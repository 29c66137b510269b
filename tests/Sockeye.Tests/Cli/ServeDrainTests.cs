using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Cli;

/// <summary><c>sockeye serve --drain-delay --agent-port</c>: on SIGTERM, "drain" to the agent check while it still serves, then the usual stop.</summary>
public class ServeDrainTests
{
    [Fact(Timeout = Timeouts.Process)]
    public async Task On_sigterm_the_agent_says_drain_and_clients_are_served_until_the_delay_is_over()
    {
        var (server, port) = await CliProcess.StartServerAsync("--handler", "eof-echo", "--agent-port", "0", "--drain-delay", "5");
        await using var _ = server;
        var agentPort = await AgentPortAsync(server, port);
        var main = new IPEndPoint(IPAddress.Loopback, port);
        var agent = new IPEndPoint(IPAddress.Loopback, agentPort);
        Assert.Equal("ready\n", await TestClient.ExchangeAsync(agent));

        // An exchange in flight across the whole stop: it began before the signal and ends after the listeners close.
        using var inFlight = await TestClient.ConnectAsync(main);
        await inFlight.SendAsync("in flight");
        server.Signal(PosixSignal.SIGTERM);
        await server.WaitForStandardErrorAsync("^Draining: ");

        Assert.Equal("drain\n", await TestClient.ExchangeAsync(agent));
        Assert.Equal("while draining<EOF>", await TestClient.ExchangeAsync(main, "while draining<EOF>"));
        Assert.DoesNotContain(server.StandardError, line => line.StartsWith("Stopping: ", StringComparison.Ordinal));

        await server.WaitForStandardErrorAsync("^Stopping: no longer accepting; waiting up to .* for 1 connection");
        var refused = await Assert.ThrowsAsync<SocketException>(() => TestClient.ConnectAsync(main));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        await inFlight.SendAsync("<EOF>");
        Assert.Equal("in flight<EOF>", await inFlight.ReceiveTextToEndAsync());
        Assert.Equal(0, await server.WaitForExitAsync());
        Assert.Equal(
            [
                "Read 19 bytes from socket.", " Data : while draining<EOF>", "Sent 19 bytes to client.",
                "Read 14 bytes from socket.", " Data : in flight<EOF>", "Sent 14 bytes to client.",
            ],
            server.StandardOutput);
    }

    [Theory(Timeout = Timeouts.Process)]
    [InlineData("--agent-port", "70000", "--agent-port must be a number from 0 to 65535, not '70000'.")]
    [InlineData("--drain-delay", "soon", "--drain-delay must be a number of seconds such as 30 or 2.5, at most 4294967 (about 49.7 days, the longest a timer waits), not 'soon'.")]
    [InlineData("--drain-delay", "5000000", "--drain-delay must be a number of seconds such as 30 or 2.5, at most 4294967 (about 49.7 days, the longest a timer waits), not '5000000'.")]
    [InlineData("--idle-timeout", "4294968", "--idle-timeout must be a number of seconds such as 30 or 2.5, at most 4294967 (about 49.7 days, the longest a timer waits); 0 turns it off, not '4294968'.")]
    public async Task A_bad_value_is_a_one_line_usage_error(string flag, string value, string error)
    {
        var serve = await CliProcess.RunAsync("serve", flag, value);

        Assert.Equal(2, serve.ExitCode);
        Assert.Equal([$"error: {error} (see 'sockeye serve --help')"], serve.StandardError);
    }

    /// <summary>The agent's port: the other port <c>serve</c> listens on, on 127.0.0.1.</summary>
    private static async Task<int> AgentPortAsync(CliProcess server, int port)
    {
        var match = await server.WaitForStandardErrorAsync($@"^Listening on 127\.0\.0\.1:(?!{port.ToString(CultureInfo.InvariantCulture)}$)(\d+)$");
        return int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }
}
