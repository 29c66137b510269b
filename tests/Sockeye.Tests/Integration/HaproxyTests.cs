using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Sockeye.Tests.Infrastructure;
using Sockeye.Tests.Protocols;

namespace Sockeye.Tests.Integration;

/// <summary>
/// Two <c>sockeye serve</c> instances behind a real HAProxy with send-proxy-v2, as docs/deploy/haproxy.cfg runs them.
/// <c>.ci/run</c> installs HAProxy; elsewhere the test is skipped when it is missing.
/// </summary>
public sealed class HaproxyTests : IAsyncDisposable
{
    private const int Clients = 20;

    // Long enough for HAProxy to see "drain" on the agent port (every 100 ms) on a loaded machine; the test checks it did.
    private const string DrainDelay = "2";

    // Clients connect from 127.0.0.2, HAProxy from 127.0.0.1: the instances can only know the former through the header.
    private static readonly IPAddress s_clientAddress = IPAddress.Parse("127.0.0.2");

    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("sockeye-haproxy-");
    private readonly List<CliProcess> _instances = [];

    /// <summary>
    /// The operator's way, as docs/deploy/README.md describes it without an agent: drain the server in HAProxy and wait
    /// until it holds no session, SIGTERM the instance (it exits 0), start it again on its port, let the checks see it,
    /// and make it ready. Without the drain, closing a listening socket resets the connections the kernel has queued
    /// but not handed over, and a connection whose first bytes have not arrived when the stop begins is idle and is
    /// closed: HAProxy cannot retry either, once it has forwarded data.
    /// </summary>
    [Fact(Timeout = Timeouts.Load)]
    public Task A_rolling_restart_drained_through_the_runtime_API_fails_no_exchange_and_every_instance_sees_the_real_clients() =>
        RollingRestartAsync(agentCheck: false, async (haproxy, name, instance) =>
        {
            await haproxy.SetStateAsync(name, "drain");
            await haproxy.WaitForAsync([name], row => row["scur"] == "0");
            instance.Signal(PosixSignal.SIGTERM);
            Assert.Equal(0, await instance.WaitForExitAsync());
            await haproxy.WaitForStatusAsync("DOWN", name);
        },
        async (haproxy, name) =>
        {
            await haproxy.WaitForStatusAsync("DRAIN", name);
            await haproxy.SetStateAsync(name, "ready");
        });

    /// <summary>
    /// The bare SIGTERM a process manager sends (systemd, Kubernetes), with no operator command: the instance runs
    /// with --drain-delay and --agent-port, HAProxy polls the agent, and sees "drain" while the instance still serves,
    /// so it sends new clients to the other; the listeners close only after the delay, and what is in flight finishes.
    /// The new instance's agent says "ready", which lifts the drain.
    /// </summary>
    [Fact(Timeout = Timeouts.Load)]
    public Task A_bare_SIGTERM_rolling_restart_with_a_drain_delay_and_HAProxys_agent_check_fails_no_exchange() =>
        RollingRestartAsync(agentCheck: true, async (haproxy, name, instance) =>
        {
            instance.Signal(PosixSignal.SIGTERM);
            var drain = haproxy.WaitForStatusAsync("DRAIN", name);
            var exit = instance.WaitForExitAsync();
            Assert.True(await Task.WhenAny(drain, exit) == drain, $"{name} exited before HAProxy saw it DRAIN:\n{haproxy.Output}");

            // The premise of a lossless stop: HAProxy knew before the listeners closed ("Stopping", "Stopped").
            Assert.DoesNotContain(instance.StandardError, line => line.StartsWith("Stopp", StringComparison.Ordinal));
            Assert.Equal(0, await exit);
            Assert.Contains(instance.StandardError, line => line.StartsWith("Draining: ", StringComparison.Ordinal));
            await haproxy.WaitForStatusAsync("DOWN", name);
        },
        (_, _) => Task.CompletedTask);

    public async ValueTask DisposeAsync()
    {
        foreach (var instance in _instances)
        {
            await instance.DisposeAsync();
        }

        _directory.Delete(recursive: true);
    }

    /// <summary>
    /// Runs <see cref="Clients"/> clients through HAProxy while each instance in turn is stopped by
    /// <paramref name="stop"/>, started again on its ports, made ready by <paramref name="readyAgain"/> and seen UP and
    /// serving; then asserts that no exchange failed and that the instances saw the clients' own address.
    /// </summary>
    private async Task RollingRestartAsync(
        bool agentCheck, Func<HaproxyProcess, string, CliProcess, Task> stop, Func<HaproxyProcess, string, Task> readyAgain)
    {
        var haproxyPath = ExternalTool.Require("haproxy", "haproxy");
        var ports = FreePorts(5);
        int[]? agentPorts = agentCheck ? [ports[3], ports[4]] : null;
        int? AgentPort(int i) => agentPorts?[i];
        var servers = new[] { await StartInstanceAsync(ports[1], AgentPort(0)), await StartInstanceAsync(ports[2], AgentPort(1)) };
        await using var haproxy = HaproxyProcess.Start(haproxyPath, _directory.FullName, ports[0], [ports[1], ports[2]], agentPorts);
        await haproxy.WaitForStatusAsync("UP", "s1", "s2");

        using var stopClients = new CancellationTokenSource();
        var clients = Enumerable.Range(0, Clients).Select(_ => Task.Run(() => RunClientAsync(haproxy.Port, stopClients.Token))).ToArray();
        await Task.WhenAll(servers.Select(server => server.WaitForStandardOutputLinesAsync(10)));

        // One at a time: stop it, start it again, and wait until HAProxy sends it clients; then the other.
        for (var i = 0; i < servers.Length; i++)
        {
            var name = $"s{i + 1}";
            await stop(haproxy, name, servers[i]);
            servers[i] = await StartInstanceAsync(ports[i + 1], AgentPort(i));
            await readyAgain(haproxy, name);
            await haproxy.WaitForStatusAsync("UP", name);
            await servers[i].WaitForStandardOutputLinesAsync(10);
        }

        await stopClients.CancelAsync();
        var results = await Task.WhenAll(clients);
        var stats = await haproxy.ShowStatAsync();
        foreach (var server in servers)
        {
            server.Signal(PosixSignal.SIGTERM);
            Assert.Equal(0, await server.WaitForExitAsync());
        }

        // Zero failed exchanges, and enough of them to have spanned both restarts.
        var failures = results.SelectMany(result => result.Failures).ToList();
        var exchanged = results.Sum(result => result.Succeeded);
        Assert.True(failures.Count == 0, $"{failures.Count} of {exchanged + failures.Count} exchanges failed:\n{string.Join('\n', failures.Take(10))}\n{haproxy.Output}");
        Assert.True(exchanged >= 200, $"only {exchanged} exchanges");
        TestContext.Current.TestOutputHelper?.WriteLine($"{exchanged} exchanges through HAProxy across two restarts");

        // Each exchange was reported by exactly one instance, with the client's own address, never HAProxy's.
        var received = _instances.SelectMany(instance => instance.StandardOutput)
            .Select(line => JsonDocument.Parse(line).RootElement)
            .Where(record => record.GetProperty("event").GetString() == "received")
            .ToList();
        Assert.Equal(exchanged, received.Count);
        Assert.All(received, record =>
        {
            var port = record.GetProperty("data").GetString()!.Split(':')[0];
            Assert.Equal($"127.0.0.2:{port}", record.GetProperty("remote").GetString());
        });

        // The health checks (PROXY v2 LOCAL, then a reset) passed, reached no handler (no line above is theirs),
        // and no instance logged a warning or an error about anything. While a check runs, HAProxy reports the last
        // one's status prefixed with "* " (management.txt, check_status), and the stats may catch one running.
        Assert.All(stats.Where(row => row["svname"] is "s1" or "s2"), row =>
            Assert.Equal("L4OK", row["check_status"] is ['*', ' ', .. var last] ? last : row["check_status"]));
        Assert.All(_instances.SelectMany(instance => instance.StandardError), line =>
            Assert.False(line.StartsWith("warning:", StringComparison.Ordinal) || line.StartsWith("error:", StringComparison.Ordinal), line));
    }

    private async Task<CliProcess> StartInstanceAsync(int port, int? agentPort)
    {
        var text = port.ToString(CultureInfo.InvariantCulture);
        string[] arguments =
        [
            "serve", "--host", "127.0.0.1", "--port", text, "--handler", "eof-echo", "--output", "jsonl",
            "--proxy-protocol", "--trusted-proxy", "127.0.0.1",
        ];
        if (agentPort is { } agent)
        {
            arguments = [.. arguments, "--drain-delay", DrainDelay, "--agent-port", agent.ToString(CultureInfo.InvariantCulture)];
        }

        var instance = CliProcess.Start(arguments);
        _instances.Add(instance);
        await instance.WaitForStandardErrorAsync($@"^Listening on 127\.0\.0\.1:{text}$");
        if (agentPort is { } agentListening)
        {
            await instance.WaitForStandardErrorAsync($@"^Listening on 127\.0\.0\.1:{agentListening.ToString(CultureInfo.InvariantCulture)}$");
        }

        return instance;
    }

    /// <summary>One-shot eof-echo exchanges through HAProxy, one after another, until told to stop.</summary>
    private static async Task<(int Succeeded, List<string> Failures)> RunClientAsync(int port, CancellationToken stop)
    {
        var succeeded = 0;
        var failures = new List<string>();

        // Bounded in count as well as by the stop signal and the test's own timeout.
        for (var i = 0; i < 50_000 && !stop.IsCancellationRequested; i++)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(s_clientAddress, 0));
            var localPort = ((IPEndPoint)socket.LocalEndPoint!).Port;
            var message = $"{localPort.ToString(CultureInfo.InvariantCulture)}:{i.ToString(CultureInfo.InvariantCulture)}<EOF>";
            try
            {
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), TestContext.Current.CancellationToken);
                await socket.SendAsync(Encoding.ASCII.GetBytes(message), SocketFlags.None, TestContext.Current.CancellationToken);
                var reply = await ReceiveToEndAsync(socket);
                if (reply == message)
                {
                    succeeded++;
                }
                else
                {
                    failures.Add($"sent '{message}', got '{reply}'");
                }
            }
            catch (SocketException ex)
            {
                failures.Add($"'{message}': {ex.SocketErrorCode}");
            }
        }

        return (succeeded, failures);
    }

    private static async Task<string> ReceiveToEndAsync(Socket socket)
    {
        var buffer = new byte[256];
        var length = 0;
        int read;
        while ((read = await socket.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, TestContext.Current.CancellationToken)) > 0)
        {
            length += read;
        }

        return Encoding.ASCII.GetString(buffer, 0, length);
    }

    /// <summary>Free ports, found by binding port 0; each is released before it is used.</summary>
    private static int[] FreePorts(int count)
    {
        var sockets = Enumerable.Range(0, count).Select(_ => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)).ToList();
        try
        {
            foreach (var socket in sockets)
            {
                socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            }

            return [.. sockets.Select(socket => ((IPEndPoint)socket.LocalEndPoint!).Port)];
        }
        finally
        {
            sockets.ForEach(socket => socket.Dispose());
        }
    }
}
