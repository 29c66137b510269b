using System.Reflection;
using System.Runtime.InteropServices;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Hosting;

/// <summary>The README's Generic Host sample is a real program: it is built, run, and matches the README.</summary>
public class ReadmeSampleTests
{
    private static readonly string s_samplePath = Metadata("HostedSamplePath");
    private static readonly string s_sampleSource = Path.Combine(Metadata("RepositoryRoot"), "samples", "HostedUpperCase");

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("README.md", "Program.cs")]
    [InlineData("README.md", "appsettings.json")]
    [InlineData("src/Sockeye.Hosting/README.md", "Program.cs")]
    [InlineData("src/Sockeye.Hosting/README.md", "appsettings.json")]
    public async Task The_readmes_show_the_sample_as_it_is(string readmePath, string file)
    {
        var readme = await File.ReadAllTextAsync(Path.Combine(Metadata("RepositoryRoot"), readmePath), TestContext.Current.CancellationToken);
        var source = await File.ReadAllTextAsync(Path.Combine(s_sampleSource, file), TestContext.Current.CancellationToken);

        Assert.Contains(source, readme, StringComparison.Ordinal);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task The_sample_serves_its_handler_with_settings_from_appsettings_json()
    {
        // Only the endpoint is overridden, to a free port; everything else comes from the sample's appsettings.json.
        await using var sample = CliProcess.StartDotnet(
            s_samplePath,
            ["--Sockeye:Endpoints:Main:Url=tcp://127.0.0.1:0"],
            workingDirectory: Path.GetDirectoryName(s_samplePath));
        var port = int.Parse((await sample.WaitForStandardOutputAsync(@"Listening on 127\.0\.0\.1:(\d+)$")).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        var endPoint = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port);

        using (var client = await TestClient.ConnectAsync(endPoint))
        {
            await client.SendAsync("hello, sockeye");
            client.HalfClose();
            Assert.Equal("HELLO, SOCKEYE", await client.ReceiveTextToEndAsync());
        }

        // A connection still open when the host stops: the drain waits for it as long as appsettings.json says.
        var idle = await TestClient.ConnectAsync(endPoint);
        await idle.SendAsync("x");
        await idle.ReceiveExactlyAsync(1);
        sample.Signal(PosixSignal.SIGTERM);

        // The idle connection, and the first one too if the server has not yet seen its client's FIN (the server closes
        // only once it has: the lingering close), which a client cannot observe.
        var stopping = await sample.WaitForStandardOutputAsync(@"Stopping: no longer accepting; waiting up to 00:00:10 for (\d+) connection\(s\) to finish$");
        Assert.InRange(int.Parse(stopping.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), 1, 2);
        idle.HalfClose();
        Assert.Equal(string.Empty, await idle.ReceiveTextToEndAsync());
        idle.Dispose();

        Assert.Equal(0, await sample.WaitForExitAsync());
        Assert.Contains(sample.StandardOutput, line => line.EndsWith("Stopped", StringComparison.Ordinal));
    }

    private static string Metadata(string key) =>
        typeof(ReadmeSampleTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;
}
