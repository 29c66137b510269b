using System.Globalization;
using System.Net;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Cli;

/// <summary><c>serve --framing</c> and <c>send --framing/--count/--timeout</c>, run as the built tool.</summary>
public class FramingCliTests
{
    [Theory(Timeout = Timeouts.Process)]
    [InlineData("nc", new[] { "-N", "127.0.0.1", "{port}" })]
    // socat waits only 0.5 s by default for the reply once its input ends (-t): on a loaded machine the echo can be later.
    // The server closes once it has echoed, so socat still ends as soon as the reply is in.
    [InlineData("socat", new[] { "-t", "30", "-", "TCP:127.0.0.1:{port}" })]
    public async Task Serve_echo_with_line_framing_echoes_lines_typed_through_a_third_party_client(string tool, string[] arguments)
    {
        var (server, port) = await CliProcess.StartServerAsync("--handler", "echo", "--framing", "line");
        await using var _ = server;

        var reply = await ThirdPartyTool.RunAsync(tool, [.. arguments.Select(a => a.Replace("{port}", Port(port), StringComparison.Ordinal))], "hello\r\nworld\n");

        Assert.Equal("hello\nworld\n", reply);
    }

    [Theory(Timeout = Timeouts.Process)]
    [InlineData("line")]
    [InlineData("delimiter")]
    [InlineData("length-prefix")]
    public async Task Send_with_count_gets_each_reply_from_a_framed_echo(string framing)
    {
        var (server, port) = await CliProcess.StartServerAsync("--handler", "echo", "--framing", framing);
        await using var _ = server;

        var send = await CliProcess.RunAsync("send", "--port", Port(port), "--framing", framing, "--count", "3", "hi there");

        Assert.Equal(0, send.ExitCode);
        Assert.Equal(Enumerable.Repeat("Response received : hi there", 3), send.StandardOutput);
        Assert.Equal(Enumerable.Repeat("Sent 8 bytes to server.", 3), send.StandardError.Skip(1));
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Send_without_framing_sends_count_times_and_prints_the_whole_reply_once()
    {
        var (server, port) = await CliProcess.StartServerAsync("--handler", "echo");
        await using var _ = server;

        var send = await CliProcess.RunAsync("send", "--port", Port(port), "--count", "2", "--half-close", "abc");

        Assert.Equal(0, send.ExitCode);
        Assert.Equal(["Response received : abcabc"], send.StandardOutput);
        Assert.Equal(["Sent 3 bytes to server.", "Sent 3 bytes to server."], send.StandardError.Skip(1));
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Print_with_framing_prints_each_message_as_it_arrives()
    {
        var (server, port) = await CliProcess.StartServerAsync("--framing", "delimiter", "--delimiter", "|");
        await using var _ = server;

        var send = await CliProcess.RunAsync("send", "--port", Port(port), "--framing", "delimiter", "--delimiter", "|", "--count", "2", "--half-close", "héllo");

        Assert.Equal(0, send.ExitCode);
        Assert.Empty(send.StandardOutput);
        Assert.Equal(
            ["Read 6 bytes from socket.", " Data : héllo", "Read 6 bytes from socket.", " Data : héllo"],
            await server.WaitForStandardOutputLinesAsync(4));
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task A_message_over_max_message_size_is_logged_as_too_large_and_others_are_still_served()
    {
        var (server, port) = await CliProcess.StartServerAsync("--handler", "echo", "--framing", "line", "--max-message-size", "1KiB");
        await using var _ = server;
        using (var flooder = await TestClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)))
        {
            await flooder.SendAsync(new string('x', 2048));
            await server.WaitForStandardErrorAsync(@"^Connection \d+ ended: MessageTooLarge; received \d+ B, sent 0 B in ");
        }

        var send = await CliProcess.RunAsync("send", "--port", Port(port), "--framing", "line", "fine");

        Assert.Equal(["Response received : fine"], send.StandardOutput);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Send_gives_up_waiting_for_a_reply_after_the_timeout()
    {
        // The print handler never replies. The timeout covers the connect as well, which on a loaded machine (a cold
        // process: name lookup, JIT) took more than half a second once: 2 s keeps this about the reply.
        var (server, port) = await CliProcess.StartServerAsync("--framing", "line");
        await using var _ = server;

        var send = await CliProcess.RunAsync("send", "--host", "127.0.0.1", "--port", Port(port), "--framing", "line", "--timeout", "2", "anyone?");

        Assert.Equal(1, send.ExitCode);
        Assert.Equal(
            $"error: No reply from 127.0.0.1:{port} within 2 s. The server may not answer each message: try --half-close, to end the stream and print whatever it sends back.",
            send.StandardError[^1]);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Send_gives_up_connecting_after_the_timeout()
    {
        using var listener = await UnacceptingListener.StartAsync();
        var port = listener.EndPoint.Port;

        var send = await CliProcess.RunAsync("send", "--host", "127.0.0.1", "--port", Port(port), "--timeout", "0.5");

        Assert.Equal(1, send.ExitCode);
        Assert.Equal([$"error: Timed out connecting to 127.0.0.1:{port} after 0.5 s."], send.StandardError);
    }

    [Theory(Timeout = Timeouts.Process)]
    [InlineData("serve", "--framing", "bogus")]
    [InlineData("serve", "--max-message-size", "0")]
    [InlineData("serve", "--max-message-size", "lots")]
    [InlineData("serve", "--handler", "eof-echo", "--framing", "line")]
    [InlineData("serve", "--handler", "relay", "--framing", "none")]
    [InlineData("serve", "--outbound-queue-policy", "block")]
    [InlineData("send", "--count", "0")]
    [InlineData("send", "--timeout", "-1")]
    [InlineData("send", "--timeout", "5000000")]
    [InlineData("send", "--framing", "line", "two\nlines")]
    public async Task A_bad_framing_command_line_gets_one_line_and_exit_code_two(params string[] arguments)
    {
        var run = await CliProcess.RunAsync(arguments);

        Assert.Equal(2, run.ExitCode);
        var line = Assert.Single(run.StandardError);
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
