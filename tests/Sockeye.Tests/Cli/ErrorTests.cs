using System.Net;
using System.Net.Sockets;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Cli;

/// <summary>Errors a user can cause: one clear line on standard error, a non-zero exit, never a stack trace.</summary>
public class ErrorTests
{
    [Fact(Timeout = Timeouts.Process)]
    public async Task Serve_on_a_port_in_use_says_so_in_one_line()
    {
        using var occupant = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        occupant.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        occupant.Listen();
        var port = ((IPEndPoint)occupant.LocalEndPoint!).Port;

        var serve = await CliProcess.RunAsync("serve", "--host", "127.0.0.1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));

        Assert.Equal(1, serve.ExitCode);
        Assert.Equal([$"error: Address 127.0.0.1:{port} is already in use."], serve.StandardError);
    }

    [Theory(Timeout = Timeouts.Process)]
    [InlineData("127.0.0.1", "127.0.0.1")]
    [InlineData("::1", "[::1]")] // an IPv6 address in brackets, as in a URL: not ::1:PORT
    public async Task Send_to_a_closed_port_says_the_connection_was_refused(string host, string shown)
    {
        var address = IPAddress.Parse(host);
        Assert.SkipWhen(address.AddressFamily == AddressFamily.InterNetworkV6 && !Socket.OSSupportsIPv6, "IPv6 is off on this machine.");
        int port;
        using (var probe = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp))
        {
            probe.Bind(new IPEndPoint(address, 0));
            port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }

        var send = await CliProcess.RunAsync("send", "--host", host, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));

        Assert.Equal(1, send.ExitCode);
        Assert.Equal([$"error: Connection refused by {shown}:{port}; is the server running?"], send.StandardError);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Send_to_an_unknown_host_says_it_cannot_resolve_it()
    {
        var send = await CliProcess.RunAsync("send", "--host", "no-such-host.invalid");

        Assert.Equal(1, send.ExitCode);
        Assert.Equal(["error: Cannot resolve host 'no-such-host.invalid'."], send.StandardError);
    }

    [Theory(Timeout = Timeouts.Process)]
    [InlineData("serve", "--port", "eleven")]
    [InlineData("serve", "--port", "70000")]
    [InlineData("serve", "--handler", "nonsense")]
    [InlineData("serve", "--host", "not-an-address")]
    [InlineData("send", "--bogus")]
    [InlineData("send", "--count", "abc")]
    [InlineData("send", "--count", "0")]
    [InlineData("frobnicate")]
    [InlineData("serve", "--unix", "")]        // was: .NET's "The value cannot be an empty string. (Parameter 'path')", exit 1
    [InlineData("serve", "--host", "")]
    [InlineData("send", "--host", "", "hi")]   // was the same, exit 1
    [InlineData("bench", "echo", "--host", " ", "--duration", "1")]
    public async Task A_bad_command_line_gets_one_line_and_exit_code_two(params string[] arguments)
    {
        var run = await CliProcess.RunAsync(arguments);

        Assert.Equal(2, run.ExitCode);
        var line = Assert.Single(run.StandardError);
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.Empty(run.StandardOutput);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Help_and_version_work()
    {
        var help = await CliProcess.RunAsync("--help");
        var serveHelp = await CliProcess.RunAsync("serve", "--help");
        var version = await CliProcess.RunAsync("--version");

        Assert.Equal(0, help.ExitCode);
        Assert.Contains(help.StandardOutput, line => line.Contains("serve", StringComparison.Ordinal));
        Assert.Contains(serveHelp.StandardOutput, line => line.Contains("--handler", StringComparison.Ordinal));
        foreach (var limit in new[] { "--max-connections", "--idle-timeout", "--min-data-rate", "--min-data-rate-grace",
            "--max-receive-buffer", "--max-send-buffer", "--write-timeout", "--drain-timeout" })
        {
            Assert.Contains(serveHelp.StandardOutput, line => line.Contains(limit + " ", StringComparison.Ordinal) && line.Contains("[default: ", StringComparison.Ordinal));
        }

        Assert.Equal(0, version.ExitCode);
        Assert.Matches(@"^\d+\.\d+\.\d+", Assert.Single(version.StandardOutput));
    }
}
