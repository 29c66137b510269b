using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Sockeye.Cli;
using Sockeye.Hosting;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Cli;

/// <summary><c>sockeye serve</c>'s configuration: appsettings.json or --config, then SOCKEYE__ variables, then flags.</summary>
public sealed class ServeConfigurationTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("sockeye-serve-config-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact(Timeout = Timeouts.Process)]
    public async Task Serve_runs_with_the_configured_endpoint_and_handler()
    {
        var file = Write("""{ "Sockeye": { "Endpoints": { "Main": "tcp://127.0.0.1:0" }, "Serve": { "Handler": "echo" } } }""");
        await using var server = CliProcess.Start("serve", "--config", file);
        var port = Port(await server.WaitForStandardErrorAsync(@"^Listening on 127\.0\.0\.1:(\d+)$"));

        using var client = await TestClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        await client.SendAsync("configured");
        client.HalfClose();
        Assert.Equal("configured", await client.ReceiveTextToEndAsync());
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task A_relative_certificate_path_in_the_configuration_is_read_from_the_current_folder()
    {
        // Was: from the tool's install folder, where no such file is, though the same path given to --tls-cert was found.
        using var key = System.Security.Cryptography.RSA.Create(2048);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest(
            "CN=localhost", key, System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(Path.Combine(_folder, "relative.crt"), certificate.ExportCertificatePem());
        File.WriteAllText(Path.Combine(_folder, "relative.key"), key.ExportPkcs8PrivateKeyPem());
        var file = Write("""
            { "Sockeye": { "Endpoints": { "Main": { "Url": "tcp://127.0.0.1:0",
              "Tls": { "Certificate": { "Path": "relative.crt", "KeyPath": "relative.key" } } } } } }
            """);

        await using var server = CliProcess.StartDotnet(CliProcess.ToolPath, ["serve", "--config", file], workingDirectory: _folder);

        await server.WaitForStandardErrorAsync(@"^Listening on 127\.0\.0\.1:(\d+)$");
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Flags_given_override_the_configured_endpoint_and_handler()
    {
        // Port 1 would be refused to an ordinary user: serving at all shows the flags' endpoint replaced it.
        var file = Write("""{ "Sockeye": { "Endpoints": { "Main": "tcp://127.0.0.1:1" }, "Serve": { "Handler": "echo" } } }""");
        await using var server = CliProcess.Start("serve", "--config", file, "--host", "127.0.0.1", "--port", "0", "--handler", "print");
        var port = Port(await server.WaitForStandardErrorAsync(@"^Listening on 127\.0\.0\.1:(\d+)$"));

        using (var client = await TestClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)))
        {
            await client.SendAsync("flagged");
            client.HalfClose();
            Assert.Equal(string.Empty, await client.ReceiveTextToEndAsync());
        }

        await server.WaitForStandardOutputAsync("^ Data : flagged$");
    }

    [Theory(Timeout = Timeouts.Process)]
    [InlineData(false, false, "echo", 1000)]
    [InlineData(true, false, "eof-echo", 2000)]
    [InlineData(true, true, "print", 3000)]
    public async Task Flags_override_the_environment_which_overrides_the_file(bool environment, bool flags, string handler, long maxMessageSize)
    {
        var file = Write("""
            { "Sockeye": { "Endpoints": { "Main": "tcp://127.0.0.1:7001" }, "MaxMessageSize": 1000, "IdleTimeout": 7,
              "EndpointDefaults": { "ProxyProtocol": { "TrustedProxies": [ "10.0.0.1" ] } }, "Serve": { "Handler": "echo" } } }
            """);
        string[] arguments = ["serve", "--print-config", "--config", file, .. flags ? new[] { "--handler", "print", "--max-message-size", "3000" } : []];
        var run = await RunAsync(arguments, environment ? new() { ["SOCKEYE__SERVE__HANDLER"] = "eof-echo", ["SOCKEYE__MAXMESSAGESIZE"] = "2000" } : null);

        var sockeye = Printed(run).GetProperty("Sockeye");
        Assert.Equal(handler, sockeye.GetProperty("Serve").GetProperty("Handler").GetString());
        Assert.Equal(maxMessageSize, sockeye.GetProperty("MaxMessageSize").GetInt64());

        // Set in the file only: neither the environment nor the flags' defaults touch them.
        Assert.Equal(7, sockeye.GetProperty("IdleTimeout").GetDouble());
        Assert.Equal("tcp://127.0.0.1:7001", sockeye.GetProperty("Endpoints").GetProperty("Main").GetString());
        var proxyProtocol = sockeye.GetProperty("EndpointDefaults").GetProperty("ProxyProtocol");
        Assert.Equal("10.0.0.1", Assert.Single(proxyProtocol.GetProperty("TrustedProxies").EnumerateArray()).GetString());
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Print_config_shows_every_setting_with_its_default()
    {
        var run = await RunAsync(["serve", "--print-config"]);

        var sockeye = Printed(run).GetProperty("Sockeye");
        Assert.Equal("tcp://localhost:11000", sockeye.GetProperty("Endpoints").EnumerateObject().Single().Value.GetProperty("Url").GetString());
        Assert.Equal(1048576, sockeye.GetProperty("MaxMessageSize").GetInt64());
        Assert.Equal(30, sockeye.GetProperty("ShutdownTimeout").GetDouble());
        Assert.Equal("print", sockeye.GetProperty("Serve").GetProperty("Handler").GetString());
        Assert.Equal("simple", sockeye.GetProperty("Serve").GetProperty("LogFormat").GetString());

        // The library's default is off; the tool's handlers never block, so it runs them inline.
        Assert.True(sockeye.GetProperty("InlineScheduling").GetBoolean());
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task The_relay_frames_lines_unless_told_otherwise_and_its_queue_flags_set_the_servers_keys()
    {
        var run = await RunAsync(["serve", "--handler", "relay", "--print-config", "--max-outbound-queue", "1MiB", "--outbound-queue-policy", "drop-newest"]);

        var sockeye = Printed(run).GetProperty("Sockeye");
        Assert.Equal("line", sockeye.GetProperty("Serve").GetProperty("Framing").GetString());
        Assert.Equal(1 << 20, sockeye.GetProperty("MaxOutboundQueueSize").GetInt64());
        Assert.Equal("DropNewest", sockeye.GetProperty("OutboundQueuePolicy").GetString());
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Inline_scheduling_can_be_turned_off_by_configuration()
    {
        var run = await RunAsync(["serve", "--print-config"], new() { ["SOCKEYE__INLINESCHEDULING"] = "false" });

        Assert.False(Printed(run).GetProperty("Sockeye").GetProperty("InlineScheduling").GetBoolean());
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task What_print_config_prints_reads_back_the_same()
    {
        var first = await RunAsync([
            "serve", "--print-config", "--host", "127.0.0.1", "--host", "::1", "--port", "7000", "--unix", Path.Combine(_folder, "s.sock"),
            "--proxy-protocol", "--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "127.0.0.1", "--idle-timeout", "0",
            "--max-connections", "0", "--drain-timeout", "2.5", "--delimiter", "<END>", "--log-format", "json"]);
        var second = await RunAsync(["serve", "--print-config", "--config", Write(string.Join('\n', first.StandardOutput))]);

        var sockeye = Printed(first).GetProperty("Sockeye");
        Assert.Equal(
            ["tcp://127.0.0.1:7000", "tcp://[::1]:7000", $"unix:{Path.Combine(_folder, "s.sock")}"],
            sockeye.GetProperty("Endpoints").EnumerateArray().Select(endpoint => endpoint.GetProperty("Url").GetString()));
        var proxyProtocol = sockeye.GetProperty("EndpointDefaults").GetProperty("ProxyProtocol");
        Assert.True(proxyProtocol.GetProperty("Enabled").GetBoolean());
        Assert.Equal(["10.0.0.0/8", "127.0.0.1"], proxyProtocol.GetProperty("TrustedProxies").EnumerateArray().Select(proxy => proxy.GetString()));
        Assert.Equal("Infinite", sockeye.GetProperty("IdleTimeout").GetString());
        Assert.Equal(JsonValueKind.Null, sockeye.GetProperty("MaxConnections").ValueKind);
        Assert.Equal(2.5, sockeye.GetProperty("ShutdownTimeout").GetDouble());
        Assert.Equal(first.StandardOutput, second.StandardOutput);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Appsettings_json_beside_the_tool_is_read()
    {
        // A copy of the tool, so a file beside it touches no other test.
        var tool = Path.Combine(_folder, "tool");
        CopyFolder(Path.GetDirectoryName(CliProcess.ToolPath)!, tool);
        await File.WriteAllTextAsync(Path.Combine(tool, "appsettings.json"), """
            { "Sockeye": { "Endpoints": { "Public": { "Url": "tcp://0.0.0.0:7000" } }, "Backlog": 64 } }
            """, TestContext.Current.CancellationToken);

        var run = await RunAsync(["serve", "--print-config"], tool: Path.Combine(tool, Path.GetFileName(CliProcess.ToolPath)));

        var sockeye = Printed(run).GetProperty("Sockeye");
        Assert.Equal("tcp://0.0.0.0:7000", sockeye.GetProperty("Endpoints").GetProperty("Public").GetProperty("Url").GetString());
        Assert.Equal(64, sockeye.GetProperty("Backlog").GetInt32());
    }

    [Theory(Timeout = Timeouts.Process)]
    [InlineData("""{ "Sockeye": { "Backlog": -1 } }""", null, "error: Sockeye:Backlog must be greater than zero. It is -1.")]
    [InlineData("""{ "Sockeye": { "Serve": { "Output": "xml" } } }""", null, "error: Sockeye:Serve:Output 'xml': Argument 'xml' not recognized. Must be one of: 'text' 'jsonl'")]
    [InlineData("""{ "Sockeye": { "Serve": { "Handler": "nope" } } }""", null, "error: Sockeye:Serve:Handler 'nope': Argument 'nope' not recognized. Must be one of: 'print' 'eof-echo' 'echo' 'relay'")]
    [InlineData("""{ "Sockeye": { "Endpoints": { "Main": "udp://1.2.3.4:5" } } }""", null, "error: Sockeye:Endpoints:Main: ")]
    [InlineData("""{ "Sockeye": { "Endpoints": { "Main": { "Url": "tcp://127.0.0.1:0", "Handler": "nope" } } } }""", null, "error: Sockeye:Endpoints:Main:Handler 'nope': the handlers are print, eof-echo, echo and relay.")]
    [InlineData("""{ "Sockeye": { "MaxMesageSize": 10 } }""", null, "error: Sockeye:MaxMesageSize is not a setting here; the settings are ")]
    [InlineData("""{ "Sockeye": { "Serve": { "Handlr": "echo" } } }""", null, "error: Sockeye:Serve:Handlr is not a setting here; the settings are ")]
    [InlineData("{}", "abc", "error: Sockeye:IDLETIMEOUT: 'abc' is not a number of seconds")]
    [InlineData("{}", null, "error: --config: there is no file '")]
    public async Task Bad_configuration_is_one_line_and_exit_code_two(string json, string? idleTimeoutVariable, string expected)
    {
        var file = json == "{}" && idleTimeoutVariable is null ? Path.Combine(_folder, "missing.json") : Write(json);
        // An endpoint of port 0 in case serve wrongly starts; not as --port, which would replace the file's endpoints.
        // Spelt as the file spells it: a section takes the spelling of whichever source names it first.
        var environment = new Dictionary<string, string?> { ["SOCKEYE__Endpoints__Test"] = "tcp://127.0.0.1:0" };
        if (idleTimeoutVariable is not null)
        {
            environment["SOCKEYE__IDLETIMEOUT"] = idleTimeoutVariable;
        }

        // Without --print-config too: serve itself must refuse before it listens.
        foreach (var printConfig in (string[][])[["--print-config"], []])
        {
            var run = await RunAsync(["serve", "--config", file, .. printConfig], environment, expectedExitCode: 2);

            var line = Assert.Single(run.StandardError);
            Assert.StartsWith(expected, line, StringComparison.Ordinal);
            Assert.Empty(run.StandardOutput);
        }
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Log_format_json_puts_the_connection_id_in_scope_on_connection_lines()
    {
        await using var server = CliProcess.Start("serve", "--host", "127.0.0.1", "--port", "0", "--handler", "echo", "--log-format", "json", "--log-level", "debug");
        var listening = JsonDocument.Parse((await server.WaitForStandardErrorAsync(@"^\{.*""EventId"":1,.*$")).Value);
        var port = IPEndPoint.Parse(listening.RootElement.GetProperty("State").GetProperty("EndPoint").GetString()!).Port;

        using (var client = await TestClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)))
        {
            client.HalfClose();
            await client.ReceiveTextToEndAsync();
        }

        // "Connection 1 accepted ..." and "Connection 1 ended ...": each carries its connection's id in a scope.
        foreach (var eventId in (int[])[10, 11])
        {
            using var line = JsonDocument.Parse((await server.WaitForStandardErrorAsync($@"^\{{.*""EventId"":{eventId},.*$")).Value);
            var id = line.RootElement.GetProperty("State").GetProperty("ConnectionId").GetInt64();
            var scope = Assert.Single(line.RootElement.GetProperty("Scopes").EnumerateArray());
            Assert.Equal(id, scope.GetProperty("ConnectionId").GetInt64());
        }

        server.Signal(PosixSignal.SIGTERM);
        Assert.Equal(0, await server.WaitForExitAsync());
        Assert.All(server.StandardError, line => JsonDocument.Parse(line).Dispose());
        listening.Dispose();
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Under_systemd_serve_notifies_ready_once_listening_and_stopping_on_sigterm()
    {
        // systemd is recognised as the parent process by its name, and told of readiness through NOTIFY_SOCKET.
        var notifyPath = Path.Combine(_folder, "notify");
        using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        notify.Bind(new UnixDomainSocketEndPoint(notifyPath));
        var systemd = Path.Combine(_folder, "systemd");
        File.CreateSymbolicLink(systemd, "/bin/sh");

        await using var shell = CliProcess.StartProgram(
            systemd,
            ["-c", $"dotnet '{CliProcess.ToolPath}' serve --port 0 --host 127.0.0.1; exit $?"],
            environment: new Dictionary<string, string?> { ["NOTIFY_SOCKET"] = notifyPath });
        await shell.WaitForStandardErrorAsync(@"^Listening on 127\.0\.0\.1:\d+$");

        Assert.Equal("READY=1", await ReceiveAsync(notify));
        var tool = int.Parse(File.ReadAllText($"/proc/{shell.Id}/task/{shell.Id}/children").Trim(), CultureInfo.InvariantCulture);
        CliProcess.Signal(tool, PosixSignal.SIGTERM);
        Assert.Equal("STOPPING=1", await ReceiveAsync(notify));
        Assert.Equal(0, await shell.WaitForExitAsync());
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Docs_configuration_names_every_flag_with_its_key_and_every_server_setting()
    {
        ServeCommand.Create(out var settings);
        var root = new DirectoryInfo(CliProcess.ToolPath);
        while (!File.Exists(Path.Combine(root.FullName, "Sockeye.slnx")))
        {
            root = root.Parent!;
        }

        var rows = (await File.ReadAllLinesAsync(Path.Combine(root.FullName, "docs", "configuration.md"), TestContext.Current.CancellationToken))
            .Where(line => line.StartsWith("| ", StringComparison.Ordinal)).ToList();

        Assert.All(settings.SelectMany(binding => binding.Options.Select(option => (option.Name, binding.Key))), flag => Assert.True(
            rows.Any(row => (row.Contains($"`{flag.Name}`", StringComparison.Ordinal) || row.Contains($"`{flag.Name} ", StringComparison.Ordinal)) && row.Contains($"`{flag.Key}", StringComparison.Ordinal)),
            $"docs/configuration.md has no row with {flag.Name} and {flag.Key}"));
        Assert.All(SockeyeConfiguration.ToConfiguration(new SocketServerOptions()), setting => Assert.Contains(rows, row => row.Contains($"`Sockeye:{setting.Key}`", StringComparison.Ordinal)));
    }

    private static async Task<string> ReceiveAsync(Socket socket)
    {
        var buffer = new byte[256];
        var received = await socket.ReceiveAsync(buffer, SocketFlags.None, TestContext.Current.CancellationToken);
        return Encoding.UTF8.GetString(buffer, 0, received).Trim();
    }

    private static int Port(System.Text.RegularExpressions.Match match) => int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);

    private static JsonElement Printed(CliProcess run)
    {
        using var json = JsonDocument.Parse(string.Join('\n', run.StandardOutput));
        return json.RootElement.Clone();
    }

    private static async Task<CliProcess> RunAsync(string[] arguments, Dictionary<string, string?>? environment = null, string? tool = null, int expectedExitCode = 0)
    {
        var process = CliProcess.StartDotnet(tool ?? CliProcess.ToolPath, arguments, environment: environment);
        var exitCode = await process.WaitForExitAsync();
        Assert.True(exitCode == expectedExitCode, $"Exit code {exitCode}; stderr:\n{string.Join('\n', process.StandardError)}");
        return process;
    }

    private string Write(string json)
    {
        var path = Path.Combine(_folder, $"{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
    }
}
