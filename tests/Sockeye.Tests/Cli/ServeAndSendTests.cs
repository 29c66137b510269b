using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Cli;

public class ServeAndSendTests
{
    [Fact(Timeout = Timeouts.Process)]
    public async Task Serve_prints_what_send_sends_with_half_close()
    {
        var (server, port) = await CliProcess.StartServerAsync();
        await using var _ = server;

        var send = await CliProcess.RunAsync("send", "--port", Port(port), "--half-close", "hello");

        Assert.Equal(0, send.ExitCode);
        Assert.Equal(["Response received : "], send.StandardOutput);
        Assert.Equal(["Read 5 bytes from socket.", " Data : hello"], await server.WaitForStandardOutputLinesAsync(2));
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task The_default_send_against_the_default_serve_says_why_no_reply_came_and_ends_without_a_reset()
    {
        // Both wait: print for the end of the stream, send for a reply. The grace period is cut from 5 s to 1 s and
        // send's timeout from 10 s to 3 s, so the minimum data rate's old SlowClient (a reset, and nothing printed) would
        // come first, as it did in the defaults' 5 s against 10 s.
        var (server, port) = await CliProcess.StartServerAsync("--min-data-rate-grace", "1", "--log-level", "debug");
        await using var _ = server;

        var send = await CliProcess.RunAsync("send", "--port", Port(port), "--timeout", "3");

        Assert.Equal(1, send.ExitCode);
        Assert.Equal(
            $"error: No reply from localhost:{port} within 3 s. The server may be waiting for the end of the stream: try --half-close, or run the server with --handler eof-echo.",
            send.StandardError[^1]);

        // When send gives up it closes, which ends the stream: the server prints the message, and the client closed.
        Assert.Equal(["Read 19 bytes from socket.", " Data : This is a test<EOF>"], await server.WaitForStandardOutputLinesAsync(2));
        await server.WaitForStandardErrorAsync(@"^debug: Connection \d+ ended: ClientClosed; received 19 B, sent 0 B");
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Eof_echo_and_a_plain_send_reproduce_the_companion_exchange()
    {
        var (server, port) = await CliProcess.StartServerAsync("--handler", "eof-echo");
        await using var _ = server;

        var send = await CliProcess.RunAsync("send", "--port", Port(port));

        Assert.Equal(0, send.ExitCode);
        Assert.Equal(["Response received : This is a test<EOF>"], send.StandardOutput);
        Assert.Contains($"Socket connected to", send.StandardError[0], StringComparison.Ordinal);
        Assert.Equal("Sent 19 bytes to server.", send.StandardError[1]);
        Assert.Equal(
            ["Read 19 bytes from socket.", " Data : This is a test<EOF>", "Sent 19 bytes to client."],
            await server.WaitForStandardOutputLinesAsync(3));
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Send_reads_the_message_from_standard_input_with_a_dash()
    {
        var (server, port) = await CliProcess.StartServerAsync("--handler", "eof-echo");
        await using var _ = server;

        var send = CliProcess.Start(["send", "--port", Port(port), "-"], standardInput: "from stdin<EOF>");

        Assert.Equal(0, await send.WaitForExitAsync());
        Assert.Equal(["Response received : from stdin<EOF>"], send.StandardOutput);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Serve_writes_json_lines_with_output_jsonl()
    {
        var (server, port) = await CliProcess.StartServerAsync("--handler", "eof-echo", "--output", "jsonl", "--delimiter", "|");
        await using var _ = server;

        await CliProcess.RunAsync("send", "--port", Port(port), "héllo|");

        var lines = await server.WaitForStandardOutputLinesAsync(2);
        using var received = JsonDocument.Parse(lines[0]);
        Assert.Equal("received", received.RootElement.GetProperty("event").GetString());
        Assert.Equal("héllo|", received.RootElement.GetProperty("data").GetString());
        Assert.Equal(7, received.RootElement.GetProperty("bytes").GetInt32());
        Assert.StartsWith("127.0.0.1:", received.RootElement.GetProperty("remote").GetString(), StringComparison.Ordinal);
        Assert.True(DateTimeOffset.TryParse(received.RootElement.GetProperty("time").GetString(), out var time) && time.Year > 2000);
        using var sent = JsonDocument.Parse(lines[1]);
        Assert.Equal("sent", sent.RootElement.GetProperty("event").GetString());
        Assert.Equal(7, sent.RootElement.GetProperty("bytes").GetInt32());
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Serve_listens_on_both_loopback_addresses_by_default()
    {
        var (server, port) = await CliProcess.StartServerAsync("--handler", "echo");
        await using var _ = server;

        if (Socket.OSSupportsIPv6)
        {
            await server.WaitForStandardErrorAsync($@"^Listening on \[::1\]:{port}$");
            using var client = await TestClient.ConnectAsync(new IPEndPoint(IPAddress.IPv6Loopback, port));
            await client.SendAsync("v6");
            Assert.Equal("v6"u8.ToArray(), await client.ReceiveExactlyAsync(2));
        }
    }

    [Theory(Timeout = Timeouts.Process)]
    [InlineData(PosixSignal.SIGTERM)]
    [InlineData(PosixSignal.SIGINT)]
    public async Task Serve_stops_cleanly_with_exit_code_zero_on_a_signal(PosixSignal signal)
    {
        var (server, port) = await CliProcess.StartServerAsync("--handler", "eof-echo");
        await using var _ = server;
        await CliProcess.RunAsync("send", "--port", Port(port));
        await server.WaitForStandardOutputLinesAsync(3);

        server.Signal(signal);

        Assert.Equal(0, await server.WaitForExitAsync());
        Assert.Contains("Stopped", server.StandardError);
        Assert.DoesNotContain(server.StandardError, line => line.StartsWith("error", StringComparison.Ordinal));
    }

    private static string Port(int port) => port.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
