using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Cli;

/// <summary><c>send</c> against servers that reset, never read, never stop, trickle, or send control characters.</summary>
public class SendMisbehavingServerTests
{
    private const string Request = "This is a test<EOF>";

    [Theory(Timeout = Timeouts.Process)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Unframed_send_prints_the_reply_that_came_before_a_reset(bool halfClose)
    {
        // Many servers answer a request and close without reading the rest; the client then sees a reset.
        await using var server = TestServer.Start(async (socket, stop) =>
        {
            await ReceiveExactlyAsync(socket, Request.Length);
            await socket.SendAsync("FULL REPLY"u8.ToArray());
            socket.LingerState = new LingerOption(true, 0);
        });

        var send = await CliProcess.RunAsync(["send", "--host", "127.0.0.1", "--port", Port(server.Port), "--timeout", "10", .. halfClose ? new[] { "--half-close" } : []]);

        Assert.Equal(1, send.ExitCode);
        Assert.Equal(["Response received : FULL REPLY"], send.StandardOutput);
        Assert.Equal($"error: 127.0.0.1:{server.Port} reset the connection.", send.StandardError[^1]);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Send_gives_up_after_the_timeout_when_the_server_never_reads()
    {
        await using var server = TestServer.Start(
            async (socket, stop) =>
            {
                await Task.Delay(Timeout.Infinite, stop);
            },
            receiveBufferSize: 4096);

        // 100 MB in 100 KB messages: far more than the kernel buffers between the two.
        var send = await CliProcess.RunAsync("send", "--host", "127.0.0.1", "--port", Port(server.Port), "--timeout", "1", "--count", "1000", new string('x', 100_000));

        Assert.Equal(1, send.ExitCode);
        Assert.Equal($"error: 127.0.0.1:{server.Port} took no more of the message for 1 s: it is not reading. Stopped sending.", send.StandardError[^1]);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Framed_send_reads_one_reply_per_message_from_a_server_that_never_stops()
    {
        await using var server = TestServer.Start(SendLinesForeverAsync);

        var send = await CliProcess.RunAsync("send", "--host", "127.0.0.1", "--port", Port(server.Port), "--framing", "line", "--count", "2", "--timeout", "10", "hi");

        Assert.Equal(0, send.ExitCode);
        Assert.Equal(["Response received : endless", "Response received : endless"], send.StandardOutput);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Send_stops_quietly_when_its_standard_output_is_gone()
    {
        await using var server = TestServer.Start(SendLinesForeverAsync);

        // head reads a line and exits; every reply after that is written to a pipe nobody reads.
        var command = $"dotnet '{CliProcess.ToolPath}' send --host 127.0.0.1 --port {Port(server.Port)} --framing line --count 1000000000 hi | head -n 1 >/dev/null; echo exit=${{PIPESTATUS[0]}}";
        var shell = CliProcess.StartProgram("bash", ["-c", command]);
        await shell.WaitForExitAsync();

        Assert.Equal(["exit=141"], shell.StandardOutput);
        Assert.DoesNotContain(shell.StandardError, line => line.StartsWith("error:", StringComparison.Ordinal));
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Unframed_send_waits_while_bytes_keep_coming_and_prints_them_when_they_stop()
    {
        // A byte every 0.4 s for longer than the timeout, then silence without a close: the timeout is on inactivity.
        await using var server = TestServer.Start(async (socket, stop) =>
        {
            await ReceiveExactlyAsync(socket, Request.Length);
            await TrickleThenWaitAsync(socket, "slowly"u8.ToArray(), 400, stop);
        });

        var send = await CliProcess.RunAsync("send", "--host", "127.0.0.1", "--port", Port(server.Port), "--timeout", "1.5");

        Assert.Equal(1, send.ExitCode);
        Assert.Equal(["Response received : slowly"], send.StandardOutput);
        Assert.Equal($"error: 127.0.0.1:{server.Port} sent nothing more for 1.5 s and did not close; stopped waiting.", send.StandardError[^1]);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Framed_send_names_a_reply_that_stopped_before_its_end()
    {
        // Part of a line, then silence without a close: not "no reply", but a reply without its end.
        await using var server = TestServer.Start(async (socket, stop) =>
        {
            await ReceiveExactlyAsync(socket, "hi\n".Length);
            await TrickleThenWaitAsync(socket, "partial"u8.ToArray(), 0, stop);
        });

        var send = await CliProcess.RunAsync("send", "--host", "127.0.0.1", "--port", Port(server.Port), "--framing", "line", "--timeout", "1", "hi");

        Assert.Equal(1, send.ExitCode);
        Assert.Empty(send.StandardOutput);
        Assert.Equal(
            $"error: 127.0.0.1:{server.Port} sent 7 byte(s) of a reply but not its end (line framing), then nothing for 1 s; stopped waiting.",
            send.StandardError[^1]);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Framed_send_waits_for_a_reply_that_trickles_in_for_longer_than_the_timeout()
    {
        // A byte every 0.2 s: the reply takes 2 s, twice the timeout, but no pause is as long as it.
        await using var server = TestServer.Start(async (socket, stop) =>
        {
            await ReceiveExactlyAsync(socket, "hi\n".Length);
            await TrickleThenWaitAsync(socket, "trickling\n"u8.ToArray(), 200, stop);
        });

        var send = await CliProcess.RunAsync("send", "--host", "127.0.0.1", "--port", Port(server.Port), "--framing", "line", "--timeout", "1", "hi");

        Assert.True(send.ExitCode == 0, string.Join('\n', send.StandardError));
        Assert.Equal(["Response received : trickling"], send.StandardOutput);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Unframed_send_prints_a_large_reply_as_it_arrives_and_holds_little_of_it_in_memory()
    {
        // 40 MiB of 'é' in sends of an odd size, so that reads cut characters in two; then silence, without a close.
        var reply = Encoding.UTF8.GetBytes(new string('é', 20 * 1024 * 1024));
        await using var server = TestServer.Start(async (socket, stop) =>
        {
            await ReceiveExactlyAsync(socket, Request.Length);
            for (var sent = 0; sent < reply.Length; sent += 65_537)
            {
                await socket.SendAsync(reply.AsMemory(sent, Math.Min(65_537, reply.Length - sent)), stop);
            }

            await Task.Delay(Timeout.Infinite, stop);
        });

        // exec keeps the process id, to watch the tool's memory; its output is summed rather than held by the test.
        var send = CliProcess.StartProgram(
            "bash", ["-c", $"exec dotnet '{CliProcess.ToolPath}' send --host 127.0.0.1 --port {Port(server.Port)} --timeout 2 > >(sha256sum)"]);
        var exited = send.WaitForExitAsync();
        long peak = 0;
        while (!exited.IsCompleted)
        {
            peak = Math.Max(peak, PeakResidentBytes(send.Id));
            await Task.WhenAny(exited, Task.Delay(20, TestContext.Current.CancellationToken));
        }

        var expected = Convert.ToHexStringLower(SHA256.HashData([.. "Response received : "u8, .. reply, .. "\n"u8]));
        Assert.Equal(1, await exited);
        Assert.Equal([$"{expected}  -"], send.StandardOutput);
        Assert.Equal($"error: 127.0.0.1:{server.Port} sent nothing more for 2 s and did not close; stopped waiting.", send.StandardError[^1]);

        // The tool itself takes about 50 MB; holding the whole reply took 160.
        Assert.InRange(peak, 1, 96 * 1024 * 1024);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Send_escapes_the_servers_control_characters_and_invalid_utf8()
    {
        await using var server = TestServer.Start(async (socket, stop) =>
        {
            await ReceiveExactlyAsync(socket, Request.Length);
            await socket.SendAsync("\u001b[31mRED\r\nFORGED\u0007 h\u00e9 \u0085"u8.ToArray().Concat(new byte[] { 0xFF, (byte)'!' }).ToArray());
            socket.Shutdown(SocketShutdown.Send);
        });

        var send = await CliProcess.RunAsync("send", "--host", "127.0.0.1", "--port", Port(server.Port));

        Assert.Equal(0, send.ExitCode);
        Assert.Equal([@"Response received : \x1B[31mRED\r\nFORGED\x07 hé \xC2\x85\xFF!"], send.StandardOutput);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Send_dash_with_standard_input_closed_says_so_in_one_line()
    {
        var shell = CliProcess.StartProgram("bash", ["-c", $"exec 0<&-; exec dotnet '{CliProcess.ToolPath}' send --port 1 -"]);

        Assert.Equal(2, await shell.WaitForExitAsync());
        var line = Assert.Single(shell.StandardError);
        Assert.StartsWith("error: Standard input is closed", line, StringComparison.Ordinal);
    }

    private static async Task SendLinesForeverAsync(Socket socket, CancellationToken stop)
    {
        var lines = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("endless\n", 1000)));
        while (true)
        {
            await socket.SendAsync(lines, stop);
        }
    }

    /// <summary>Sends <paramref name="bytes"/> one at a time, <paramref name="pause"/> ms apart, then waits without closing.</summary>
    private static async Task TrickleThenWaitAsync(Socket socket, byte[] bytes, int pause, CancellationToken stop)
    {
        foreach (var b in bytes)
        {
            await socket.SendAsync(new[] { b });
            await Task.Delay(pause, stop);
        }

        await Task.Delay(Timeout.Infinite, stop);
    }

    /// <summary>The most memory process <paramref name="pid"/> has held resident so far; 0 once it is gone.</summary>
    private static long PeakResidentBytes(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static async Task ReceiveExactlyAsync(Socket socket, int count)
    {
        var buffer = new byte[count];
        var received = 0;
        while (received < count)
        {
            var read = await socket.ReceiveAsync(buffer.AsMemory(received));
            Assert.NotEqual(0, read);
            received += read;
        }
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    /// <summary>A server on a free loopback port that runs <c>serve</c> on each connection, then closes it; disposing it stops them all.</summary>
    private sealed class TestServer : IAsyncDisposable
    {
        private readonly Socket _listener;
        private readonly Task _accepting;
        private readonly CancellationTokenSource _stop = new();
        private readonly List<Task> _connections = [];

        private TestServer(Func<Socket, CancellationToken, Task> serve, int? receiveBufferSize)
        {
            _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            if (receiveBufferSize is { } size)
            {
                _listener.ReceiveBufferSize = size;
            }

            _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _listener.Listen();
            Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
            _accepting = AcceptAsync(serve);
        }

        public int Port { get; }

        public static TestServer Start(Func<Socket, CancellationToken, Task> serve, int? receiveBufferSize = null) => new(serve, receiveBufferSize);

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Dispose();
            await _accepting;
            await Task.WhenAll(_connections);
            _stop.Dispose();
        }

        private async Task AcceptAsync(Func<Socket, CancellationToken, Task> serve)
        {
            try
            {
                while (true)
                {
                    var socket = await _listener.AcceptAsync();
                    _connections.Add(Task.Run(async () =>
                    {
                        using (socket)
                        {
                            try
                            {
                                await serve(socket, _stop.Token);
                            }
                            catch (Exception ex) when (ex is SocketException or OperationCanceledException)
                            {
                                // The client went away, or the test ended.
                            }
                        }
                    }));
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // Disposed.
            }
        }
    }
}
