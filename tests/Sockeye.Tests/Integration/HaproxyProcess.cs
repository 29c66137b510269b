using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Sockeye.Tests.Integration;

/// <summary>
/// A real HAProxy in TCP mode in front of Sockeye instances on loopback, with send-proxy-v2 (and its CRC32C), health
/// checks, leastconn, and an admin socket to read its view of the servers.
/// </summary>
internal sealed class HaproxyProcess : IAsyncDisposable
{
    private const string Backend = "sockeye";

    private readonly Process _process;
    private readonly string _statsSocket;
    private readonly StringBuilder _output = new();

    private HaproxyProcess(Process process, string statsSocket, int port)
    {
        _process = process;
        _statsSocket = statsSocket;
        Port = port;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>The frontend's port, where clients connect.</summary>
    public int Port { get; }

    /// <summary>What HAProxy printed, for failure messages.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts HAProxy in front of servers s1, s2, ... on loopback.</summary>
    /// <param name="haproxy">The haproxy program.</param>
    /// <param name="directory">Where its config and admin socket go.</param>
    /// <param name="port">The frontend's port.</param>
    /// <param name="serverPorts">Each server's port, s1's first.</param>
    /// <param name="agentPorts">
    /// Each server's <c>--agent-port</c>, for an agent check every 100 ms; <see langword="null"/> for none.
    /// </param>
    public static HaproxyProcess Start(string haproxy, string directory, int port, IReadOnlyList<int> serverPorts, IReadOnlyList<int>? agentPorts = null)
    {
        var statsSocket = Path.Combine(directory, "haproxy.sock");
        var servers = string.Join('\n', serverPorts.Select((serverPort, i) =>
            $"    server s{i + 1} 127.0.0.1:{serverPort.ToString(CultureInfo.InvariantCulture)}" +
            (agentPorts is null ? string.Empty : $" agent-check agent-port {agentPorts[i].ToString(CultureInfo.InvariantCulture)} agent-inter 100ms")));

        // Checks every 100 ms, one failure marks a server down and one success up again; a refused connection is
        // retried on another server at once. The ratio of these (and of agent-inter) to the drain delay and timeout
        // is what docs/deploy explains.
        var config = $"""
            global
                stats socket {statsSocket} mode 600 level admin
                maxconn 2000
            defaults
                mode tcp
                timeout connect 2s
                timeout client 20s
                timeout server 20s
                retries 3
                option redispatch 1
            frontend sockeye
                bind 127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}
                default_backend sockeye
            backend sockeye
                balance leastconn
                default-server send-proxy-v2 proxy-v2-options crc32c check inter 100ms fall 1 rise 1
            {servers}
            """;
        var configPath = Path.Combine(directory, "haproxy.cfg");
        File.WriteAllText(configPath, config + "\n");

        var info = new ProcessStartInfo(haproxy)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "-db", "-f", configPath })
        {
            info.ArgumentList.Add(argument);
        }

        return new HaproxyProcess(Process.Start(info)!, statsSocket, port);
    }

    /// <summary>Waits until every named server has a status (UP, DOWN, DRAIN) that starts with <paramref name="status"/>.</summary>
    public Task WaitForStatusAsync(string status, params string[] servers) =>
        WaitForAsync(servers, row => row["status"].StartsWith(status, StringComparison.Ordinal));

    /// <summary>Waits until HAProxy's row of every named server satisfies <paramref name="condition"/>.</summary>
    public async Task WaitForAsync(string[] servers, Func<Dictionary<string, string>, bool> condition)
    {
        while (true)
        {
            Assert.False(_process.HasExited, $"HAProxy exited:\n{Output}");
            var rows = await TryShowStatAsync();
            if (rows is not null && servers.All(server => rows.Any(row => row["pxname"] == Backend && row["svname"] == server && condition(row))))
            {
                return;
            }

            // HAProxy's view changes on its own timer (the check interval) and offers no event to wait on.
            await Task.Delay(TimeSpan.FromMilliseconds(25), TestContext.Current.CancellationToken);
        }
    }

    /// <summary>Sets a server's administrative state through the runtime API: <c>drain</c>, <c>ready</c> or <c>maint</c>.</summary>
    public async Task SetStateAsync(string server, string state)
    {
        var reply = await CommandAsync($"set server {Backend}/{server} state {state}");
        Assert.True(reply.Trim().Length == 0, reply);
    }

    /// <summary>The backend's servers as HAProxy's <c>show stat</c> gives them, one dictionary per row.</summary>
    public async Task<IReadOnlyList<Dictionary<string, string>>> ShowStatAsync() =>
        await TryShowStatAsync() ?? throw new InvalidOperationException($"HAProxy's stats socket does not answer.\n{Output}");

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private async Task<IReadOnlyList<Dictionary<string, string>>?> TryShowStatAsync()
    {
        string text;
        try
        {
            text = await CommandAsync("show stat");
        }
        catch (SocketException)
        {
            // Not listening yet: HAProxy is still starting.
            return null;
        }

        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var header = lines[0].TrimStart('#', ' ').Split(',');
        return [.. lines.Skip(1).Select(line => header.Zip(line.Split(',')).ToDictionary(pair => pair.First, pair => pair.Second))];
    }

    private async Task<string> CommandAsync(string command)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(_statsSocket), TestContext.Current.CancellationToken);
        await socket.SendAsync(Encoding.ASCII.GetBytes(command + "\n"), SocketFlags.None, TestContext.Current.CancellationToken);
        using var stream = new NetworkStream(socket);
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync(TestContext.Current.CancellationToken);
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }
}
