using System.Globalization;
using System.Net;
using System.Net.Sockets;
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
        var first = broadcast.GetProperty("nonReadersFirstEndedSeconds").GetDouble();
        var last = broadcast.GetProperty("nonReadersLastEndedSeconds").GetDouble();
        Assert.InRange(first, 0, last);
        Assert.InRange(last, first, 5);
        Assert.InRange(broadcast.GetProperty("drainSeconds").GetDouble(), 0, 5.5);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task A_subscriber_still_owed_messages_once_the_drain_is_over_is_an_error_while_the_others_drain_cleanly()
    {
        // A relay that stops passing messages to its first subscriber after ten, and keeps the connection open.
        await using var relay = new PartialRelay(size: 64, starveAfter: 10);

        var bench = await CliProcess.RunAsync(
            "bench", "broadcast", "--port", Port(relay.Port), "-n", "3", "-s", "64", "--window", "4", "--duration", "1", "--warmup", "0",
            "--json");

        using var report = JsonDocument.Parse(string.Join('\n', bench.StandardOutput));
        var root = report.RootElement;
        var samples = root.GetProperty("errorSamples").EnumerateArray().Select(e => e.GetString()!).ToList();
        // The starved subscriber, and the publisher that waited for it: nothing from the two that got everything.
        Assert.True(root.GetProperty("errors").GetInt64() == 2, string.Join('\n', bench.StandardOutput));
        Assert.Contains(samples, sample => sample.Contains("still owed", StringComparison.Ordinal));
        Assert.True(root.GetProperty("broadcast").GetProperty("drainSeconds").GetDouble() >= 4.5);
        Assert.NotEqual(0, bench.ExitCode);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task A_subscriber_the_relay_joins_after_the_first_window_picks_the_stream_up_where_it_joined()
    {
        // The relay joins its first subscriber only after the publisher's first window (4 messages) has gone to the
        // others, as a server does whose handler for that client starts late: the publisher must not wait for ever
        // for that window to reach it.
        await using var relay = new PartialRelay(size: 64, joinAfter: 4);

        var bench = await CliProcess.RunAsync(
            "bench", "broadcast", "--port", Port(relay.Port), "-n", "3", "-s", "64", "--window", "4", "--duration", "1", "--warmup", "0",
            "--json");

        Assert.True(bench.ExitCode == 0, string.Join('\n', bench.StandardOutput.Concat(bench.StandardError)));
        using var report = JsonDocument.Parse(string.Join('\n', bench.StandardOutput));
        var root = report.RootElement;
        Assert.Equal(0, root.GetProperty("errors").GetInt64());
        Assert.True(root.GetProperty("messages").GetInt64() > 4 * 3);
        Assert.Equal(1, root.GetProperty("broadcast").GetProperty("lateJoins").GetInt32());
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// A relay for the tests above: what any client sends goes to every other client still connected, except that the
    /// first of them when the first message comes (a subscriber: they all connect before publishers; the generator's
    /// probe connection has come and gone) gets only messages <c>joinAfter</c> up to (not including)
    /// <c>starveAfter</c>, counted over everything relayed to it (with one publisher, that publisher's messages).
    /// </summary>
    private sealed class PartialRelay : IAsyncDisposable
    {
        private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        private readonly List<Socket> _clients = [];
        private readonly List<Task> _readers = [];
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _accepting;
        private readonly long _partialFrom;
        private readonly long _partialTo;
        private long _partialOffered;
        private Socket? _partial;

        public PartialRelay(int size, int joinAfter = 0, int starveAfter = int.MaxValue)
        {
            _partialFrom = (long)size * joinAfter;
            _partialTo = (long)size * starveAfter;
            _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _listener.Listen();
            _accepting = AcceptAsync();
        }

        public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    var client = await _listener.AcceptAsync(_stop.Token);
                    lock (_clients)
                    {
                        _clients.Add(client);
                        _readers.Add(RelayAsync(client));
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // Stopped.
            }
        }

        private async Task RelayAsync(Socket from)
        {
            var buffer = new byte[64 * 1024];
            try
            {
                while (true)
                {
                    var received = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                    if (received == 0)
                    {
                        break;
                    }

                    lock (_clients)
                    {
                        _partial ??= _clients.First(client => client != from);
                        foreach (var to in _clients.Where(client => client != from))
                        {
                            var data = buffer.AsSpan(0, received);
                            if (to == _partial)
                            {
                                // The part of [offered, offered + received) that lies in [from, to).
                                var start = Math.Clamp(_partialFrom - _partialOffered, 0, received);
                                var end = Math.Clamp(_partialTo - _partialOffered, start, received);
                                _partialOffered += received;
                                data = data[(int)start..(int)end];
                            }

                            to.Send(data);
                        }
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // The client left, or the relay stopped.
            }

            lock (_clients)
            {
                _clients.Remove(from);
            }

            from.Dispose();
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Dispose();
            Task[] readers;
            lock (_clients)
            {
                foreach (var client in _clients)
                {
                    client.Dispose();
                }

                readers = [.. _readers];
            }

            await Task.WhenAll([_accepting, .. readers]).WaitAsync(TimeSpan.FromSeconds(10));
            _stop.Dispose();
        }
    }
}
