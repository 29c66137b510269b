using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Cli;

/// <summary>
/// <c>sockeye bench</c> run as a process for about a second against <c>sockeye serve</c>: a smoke test of each
/// workload, and of the checks that make its numbers trustworthy. These are not benchmarks: nothing here asserts
/// a speed.
/// </summary>
public class BenchTests
{
    private const string Short = "1";

    [Fact(Timeout = Timeouts.Process)]
    public async Task Echo_counts_checked_messages_and_reports_latency_and_the_servers_cost()
    {
        var (server, port) = await CliProcess.StartServerAsync("--handler", "echo");
        await using var _ = server;

        var bench = await CliProcess.RunAsync(
            "bench", "echo", "--port", Port(port), "-c", "4", "-d", "2", "--duration", Short, "--warmup", "0", "--json",
            "--server-pid", server.Id.ToString(CultureInfo.InvariantCulture));

        Assert.Equal(0, bench.ExitCode);
        using var report = Report(bench);
        var root = report.RootElement;
        Assert.Equal("echo", root.GetProperty("workload").GetString());
        Assert.Equal(0, root.GetProperty("errors").GetInt64());
        Assert.True(root.GetProperty("messages").GetInt64() > 0);
        Assert.Equal(4, root.GetProperty("connected").GetInt64());
        Assert.True(root.GetProperty("latency").GetProperty("p50").GetDouble() > 0);
        Assert.True(root.GetProperty("server").GetProperty("rssBytes").GetInt64() > 0);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Oneshot_with_half_close_completes_exchanges_the_print_handler_reports()
    {
        var (server, port) = await CliProcess.StartServerAsync("--handler", "print");
        await using var _ = server;

        var bench = await CliProcess.RunAsync(
            "bench", "oneshot", "--half-close", "--port", Port(port), "-c", "2", "-s", "5", "--duration", Short, "--warmup", "0", "--json");

        Assert.Equal(0, bench.ExitCode);
        using var report = Report(bench);
        Assert.Equal(0, report.RootElement.GetProperty("errors").GetInt64());
        Assert.True(report.RootElement.GetProperty("connectionsPerSecond").GetDouble() > 0);
        Assert.Equal("Read 5 bytes from socket.", (await server.WaitForStandardOutputLinesAsync(1))[0]);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Connections_to_loopback_come_from_several_addresses_so_client_ports_last()
    {
        var (server, port) = await CliProcess.StartServerAsync("--handler", "print", "--output", "jsonl");
        await using var _ = server;

        var bench = await CliProcess.RunAsync(
            "bench", "oneshot", "--half-close", "--port", Port(port), "-c", "2", "-s", "5", "--duration", Short, "--warmup", "0", "--json");

        Assert.Equal(0, bench.ExitCode);
        var lines = await server.WaitForStandardOutputLinesAsync(16);
        var sources = lines.Select(line =>
        {
            using var document = JsonDocument.Parse(line);
            return IPEndPoint.Parse(document.RootElement.GetProperty("remote").GetString()!).Address;
        }).ToHashSet();
        Assert.True(sources.Count > 1, $"every connection came from {string.Join(", ", sources)}");
        Assert.All(sources, address => Assert.True(IPAddress.IsLoopback(address)));
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Oneshot_gets_each_request_echoed_by_eof_echo()
    {
        var (server, port) = await CliProcess.StartServerAsync("--handler", "eof-echo");
        await using var _ = server;

        var bench = await CliProcess.RunAsync(
            "bench", "oneshot", "--port", Port(port), "-c", "2", "--duration", Short, "--warmup", "0", "--json");

        Assert.Equal(0, bench.ExitCode);
        using var report = Report(bench);
        Assert.Equal(0, report.RootElement.GetProperty("errors").GetInt64());
        Assert.True(report.RootElement.GetProperty("messages").GetInt64() > 0);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Idle_holds_every_connection_and_measures_the_servers_memory_per_connection()
    {
        var (server, port) = await CliProcess.StartServerAsync("--handler", "echo");
        await using var _ = server;

        var bench = await CliProcess.RunAsync(
            "bench", "idle", "--port", Port(port), "-c", "50", "--duration", Short, "--warmup", "0.5", "--json",
            "--server-pid", server.Id.ToString(CultureInfo.InvariantCulture));

        Assert.Equal(0, bench.ExitCode);
        using var report = Report(bench);
        Assert.Equal(50, report.RootElement.GetProperty("connected").GetInt64());
        Assert.True(report.RootElement.GetProperty("server").TryGetProperty("rssPerConnectionBytes", out var perConnection) && perConnection.ValueKind == JsonValueKind.Number);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Idle_against_a_server_that_does_not_echo_is_one_line_that_names_the_handler_it_needs()
    {
        // eof-echo waits for its delimiter: before the probe, every connection failed on its own after the minimum data rate's grace.
        var (server, port) = await CliProcess.StartServerAsync("--handler", "eof-echo");
        await using var _ = server;

        var bench = await CliProcess.RunAsync("bench", "idle", "--port", Port(port), "-c", "20", "--duration", Short, "--warmup", "0");

        Assert.Equal(1, bench.ExitCode);
        Assert.Equal(
            [$"error: bench idle needs a server that echoes every byte and keeps the connection open, such as 'sockeye serve --handler echo'; 127.0.0.1:{port} did not echo within 3 s."],
            bench.StandardError);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task A_server_that_changes_an_echoed_byte_is_caught()
    {
        // Echoes faithfully, except that the 100th byte of each connection's stream comes back changed.
        await using var server = await TestServer.StartAsync(async connection =>
        {
            var received = 0L;
            while (true)
            {
                var result = await connection.Transport.Input.ReadAsync();
                foreach (var segment in result.Buffer)
                {
                    var copy = segment.ToArray();
                    if (received <= 99 && received + copy.Length > 99)
                    {
                        copy[99 - received] ^= 0x20;
                    }

                    received += copy.Length;
                    await connection.Transport.Output.WriteAsync(copy);
                }

                connection.Transport.Input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    return;
                }
            }
        });

        var bench = await CliProcess.RunAsync(
            "bench", "echo", "--port", Port(server.EndPoint.Port), "-c", "1", "--duration", Short, "--warmup", "0");

        Assert.Equal(1, bench.ExitCode);
        Assert.Contains("error: 1 error(s) during the run; the first: echoed bytes differ from those sent", bench.StandardError[^1], StringComparison.Ordinal);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task No_server_is_one_line_and_exit_code_one()
    {
        int port;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }

        var bench = await CliProcess.RunAsync("bench", "echo", "--port", Port(port), "--duration", Short);

        Assert.Equal(1, bench.ExitCode);
        Assert.Equal([$"error: Connection refused by 127.0.0.1:{port}; is the server running?"], bench.StandardError);
    }

    [Theory(Timeout = Timeouts.Process)]
    [InlineData("echo", "--depth", "0")]
    [InlineData("echo", "--size", "0")]
    [InlineData("idle", "--connections", "many")]
    [InlineData("oneshot", "--size", "2MiB")]
    public async Task A_bad_option_gets_one_line_and_exit_code_two(params string[] arguments)
    {
        var bench = await CliProcess.RunAsync(["bench", .. arguments]);

        Assert.Equal(2, bench.ExitCode);
        Assert.Single(bench.StandardError);
        Assert.StartsWith("error: ", bench.StandardError[0], StringComparison.Ordinal);
    }

    private static JsonDocument Report(CliProcess bench) => JsonDocument.Parse(string.Join('\n', bench.StandardOutput));

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
