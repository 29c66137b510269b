using System.Reflection;
using System.Runtime.InteropServices;
using Sockeye.Tests.Infrastructure;
using Sockeye.Tests.Protocols;

namespace Sockeye.Tests.Hosting;

/// <summary>samples/HostedTls: a hosted application that serves TLS configured in its appsettings.json alone.</summary>
public sealed class HostedTlsSampleTests : IDisposable
{
    private static readonly string s_samplePath = typeof(HostedTlsSampleTests).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "HostedTlsSamplePath").Value!;

    private readonly DirectoryInfo _contentRoot = Directory.CreateTempSubdirectory("sockeye-hosted-tls-");

    public void Dispose() => _contentRoot.Delete(recursive: true);

    [Fact(Timeout = Timeouts.Process)]
    public async Task The_sample_serves_TLS_with_the_certificate_its_appsettings_json_names()
    {
        // The content root holds the sample's appsettings.json and the files it names (certs/server.crt, .key),
        // as an operator would deploy them; only the port is overridden, to a free one.
        File.Copy(Path.Combine(Path.GetDirectoryName(s_samplePath)!, "appsettings.json"), Path.Combine(_contentRoot.FullName, "appsettings.json"));
        TestCertificates.WritePem(TestCertificates.Server, _contentRoot.CreateSubdirectory("certs").FullName, "server");
        await using var sample = CliProcess.StartDotnet(s_samplePath, ["--Sockeye:Endpoints:Secure:Url=tcp://127.0.0.1:0"], workingDirectory: _contentRoot.FullName);
        var port = int.Parse((await sample.WaitForStandardOutputAsync(@"Listening on 127\.0\.0\.1:(\d+)$")).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);

        await using (var client = await TlsClient.ConnectAsync(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port)))
        {
            await client.SendAsync("over TLS");
            var reply = new byte[8];
            await client.Ssl.ReadExactlyAsync(reply, TestContext.Current.CancellationToken);
            Assert.Equal("over TLS", System.Text.Encoding.UTF8.GetString(reply));
        }

        sample.Signal(PosixSignal.SIGTERM);
        Assert.Equal(0, await sample.WaitForExitAsync());
    }
}
