using System.Diagnostics;
using System.Globalization;
using Sockeye.Tests.Infrastructure;
using Sockeye.Tests.Protocols;

namespace Sockeye.Tests.Cli;

/// <summary>Real clients that are not ours: socat and OpenBSD netcat. .ci/run installs both.</summary>
public class ThirdPartyClientTests
{
    [Fact(Timeout = Timeouts.Process)]
    public async Task Socat_gets_the_companion_echo()
    {
        var (server, port) = await CliProcess.StartServerAsync("--handler", "eof-echo");
        await using var _ = server;

        // -t 30: socat waits only 0.5 s by default for the reply once its input ends; the server closes after echoing.
        var reply = await ThirdPartyTool.RunAsync("socat", ["-t", "30", "-", $"TCP:127.0.0.1:{port}"], "from socat<EOF>");

        Assert.Equal("from socat<EOF>", reply);
        Assert.Equal(" Data : from socat<EOF>", (await server.WaitForStandardOutputLinesAsync(2))[1]);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task A_person_typing_into_netcat_with_pauses_longer_than_the_grace_period_is_printed_whole()
    {
        // (printf 'hello\n'; sleep 7; printf 'world\n') | nc -N localhost 11000, with the grace period cut from 5 s to 1 s
        // so that a 3 s pause is past it: the minimum data rate used to end this as SlowClient, and print nothing.
        var nc = ExternalTool.Require("nc", "netcat-openbsd");
        var (server, port) = await CliProcess.StartServerAsync("--min-data-rate-grace", "1");
        await using var _ = server;

        var info = new ProcessStartInfo(nc) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in new[] { "-N", "127.0.0.1", port.ToString(CultureInfo.InvariantCulture) })
        {
            info.ArgumentList.Add(argument);
        }

        using var client = Process.Start(info)!;
        await client.StandardInput.WriteAsync("hello\n");
        await client.StandardInput.FlushAsync(TestContext.Current.CancellationToken);

        // The pause is what is under test (a person thinking), not a stand-in for a signal.
        await Task.Delay(TimeSpan.FromSeconds(3), TestContext.Current.CancellationToken);
        await client.StandardInput.WriteAsync("world\n");
        client.StandardInput.Close();
        await client.WaitForExitAsync(TestContext.Current.CancellationToken);

        // The message's line feeds are written \n: a record is its two lines.
        Assert.Equal(["Read 12 bytes from socket.", @" Data : hello\nworld\n"], await server.WaitForStandardOutputLinesAsync(2));
        Assert.DoesNotContain(server.StandardError, line => line.Contains("SlowClient", StringComparison.Ordinal));
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Netcat_with_half_close_is_printed_by_the_seed_handler()
    {
        var (server, port) = await CliProcess.StartServerAsync();
        await using var _ = server;

        await ThirdPartyTool.RunAsync("nc", ["-N", "127.0.0.1", port.ToString(System.Globalization.CultureInfo.InvariantCulture)], "from nc");

        Assert.Equal(["Read 7 bytes from socket.", " Data : from nc"], await server.WaitForStandardOutputLinesAsync(2));
    }
}
