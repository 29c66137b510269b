using System.Globalization;
using System.Text.Json;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Cli.Bench;

/// <summary>
/// <c>sockeye bench broadcast</c> run as a process for a second or two against <c>sockeye serve --handler relay</c>:
/// a smoke test of the workload and of its slow consumers. Nothing here asserts a speed.
/// </summary>
public class BroadcastBenchTests
{
    [Fact(Timeout = Timeouts.Process)]
    public async Task Every_subscriber_gets_every_publishers_messages_checked_and_timed()
    {
        var (server, port) = await CliProcess.StartServerAsync("--handler", "relay");
        await using var _ = server;

        var bench = await CliProcess.RunAsync(
            "bench", "broadcast", "--port", Port(port), "--publishers", "2", "-n", "20", "--duration", "1", "--warmup", "0.5", "--json",
            "--server-pid", server.Id.ToString(CultureInfo.InvariantCulture));

        Assert.True(bench.ExitCode == 0, string.Join('\n', bench.StandardError));
        using var report = JsonDocument.Parse(string.Join('\n', bench.StandardOutput));
        var root = report.RootElement;
        Assert.Equal("broadcast", root.GetProperty("workload").GetString());
        Assert.Equal(0, root.GetProperty("errors").GetInt64());
        Assert.Equal(22, root.GetProperty("connected").GetInt64());
        Assert.True(root.GetProperty("messages").GetInt64() > 0);
        Assert.True(root.GetProperty("latency").GetProperty("p99").GetDouble() > 0);
        var broadcast = root.GetProperty("broadcast");
        Assert.Equal(2, broadcast.GetProperty("publishers").GetInt32());
        Assert.Equal(20, broadcast.GetProperty("subscribers").GetInt32());
        Assert.Equal(0, broadcast.GetProperty("nonReaders").GetInt32());
        Assert.True(root.GetProperty("server").GetProperty("rssPeakBytes").GetInt64() > 0);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Subscribers_that_never_read_are_ended_by_the_relay_while_the_others_get_everything()
    {
        var (server, port) = await CliProcess.StartServerAsync("--handler", "relay", "--max-outbound-queue", "64KiB");
        await using var _ = server;

        var bench = await CliProcess.RunAsync(
            "bench", "broadcast", "--port", Port(port), "-n", "10", "--non-readers", "0.2", "-s", "16KiB", "--window", "2", "--duration", "5",
            "--warmup", "0", "--json");

        Assert.True(bench.ExitCode == 0, string.Join('\n', bench.StandardError));
        using var report = JsonDocument.Parse(string.Join('\n', bench.StandardOutput));
        var root = report.RootElement;
        Assert.Equal(0, root.GetProperty("errors").GetInt64());
        Assert.True(root.GetProperty("messages").GetInt64() > 0);
        var broadcast = root.GetProperty("broadcast");
        Assert.Equal(2, broadcast.GetProperty("nonReaders").GetInt32());
        Assert.Equal(2, broadcast.GetProperty("nonReadersEnded").GetInt32());
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
