using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Cli;

/// <summary>Real clients that are not ours: socat and OpenBSD netcat. .ci/run installs both.</summary>
public class ThirdPartyClientTests
{
    [Fact(Timeout = Timeouts.Process)]
    public async Task Socat_gets_the_companion_echo()
    {
        var (server, port) = await CliProcess.StartServerAsync("--handler", "eof-echo");
        await using var _ = server;

        var reply = await ThirdPartyTool.RunAsync("socat", ["-", $"TCP:127.0.0.1:{port}"], "from socat<EOF>");

        Assert.Equal("from socat<EOF>", reply);
        Assert.Equal(" Data : from socat<EOF>", (await server.WaitForStandardOutputLinesAsync(2))[1]);
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
