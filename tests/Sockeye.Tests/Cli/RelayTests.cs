using System.Globalization;
using System.Net.Sockets;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Cli;

/// <summary><c>sockeye serve --handler relay</c>: every line a client sends reaches every other client (issue 14).</summary>
public class RelayTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact(Timeout = Timeout)]
    public async Task Fifty_clients_sending_at_once_each_hear_every_other_line_intact_and_in_the_senders_order()
    {
        const int Clients = 50;
        const int LinesEach = 20;
        var (server, port) = await CliProcess.StartServerAsync("--handler", "relay");
        await using var _ = server;

        var clients = new List<LineClient>();
        using (var watcher = await WatcherAsync(port))
        {
            for (var i = 0; i < Clients; i++)
            {
                clients.Add(await JoinAsync(watcher, port, $"client {i}"));
            }
        }

        try
        {
            // Each client sends its lines in one write, all at once; each reads every other client's lines meanwhile.
            var sending = clients.Select((client, i) => client.SendAsync(string.Concat(Enumerable.Range(0, LinesEach).Select(j => Line(i, j) + "\n"))));
            var receiving = clients.Select((client, i) => ReceiveFromOthersAsync(client, i, Clients, LinesEach));
            await Task.WhenAll(sending);
            var received = await Task.WhenAll(receiving);

            Assert.All(received, count => Assert.Equal((Clients - 1) * LinesEach, count));
        }
        finally
        {
            clients.ForEach(client => client.Dispose());
        }
    }

    [Fact(Timeout = Timeout)]
    public async Task A_client_that_never_reads_is_ended_as_a_slow_reader_while_the_others_go_on_and_memory_stays_bounded()
    {
        const int LineLength = 1024;
        const int Lines = 16 * 1024;   // 16 MiB: far past the kernel's buffers for the client that never reads, and the bound
        var (server, port) = await CliProcess.StartServerAsync("--handler", "relay", "--max-outbound-queue", "64KiB", "--log-level", "information");
        await using var _ = server;

        using var reader = await WatcherAsync(port);
        using var neverReads = await JoinAsync(reader, port, "never reads");
        using var sender = await JoinAsync(reader, port, "sender");
        var rssBefore = ResidentBytes(server.Id);

        // A relay does not slow a sender down for its readers: the test's reader returns credit as it reads, so the
        // sender never has more than 32 KiB on the way to it, well within the 64 KiB bound.
        const int ChunkLines = 16;
        using var credit = new SemaphoreSlim(2);
        var receiving = Task.Run(
            async () =>
            {
                for (var j = 0; j < Lines; j++)
                {
                    Assert.Equal(Line(0, j, LineLength), await NextLineAsync(reader));
                    if ((j + 1) % ChunkLines == 0)
                    {
                        credit.Release();
                    }
                }
            },
            Token);
        for (var j = 0; j < Lines; j += ChunkLines)
        {
            if (await Task.WhenAny(credit.WaitAsync(Token), receiving) == receiving)
            {
                await receiving;   // the reader failed: its error is the test's
            }

            await sender.SendAsync(string.Concat(Enumerable.Range(j, ChunkLines).Select(k => Line(0, k, LineLength) + "\n")));
        }

        await receiving;
        var rssAfter = ResidentBytes(server.Id);

        // The client that never read was cut off, once: it finds its connection ended after what its buffers held.
        await server.WaitForStandardErrorAsync(@"Connection \d+ ended: SlowReader");
        Assert.Single(server.StandardError, line => line.Contains("SlowReader", StringComparison.Ordinal));
        await AssertEndedAsync(neverReads.Socket);

        // The others go on; and the 16 MiB that went past the client that never read were not held for it.
        await sender.SendLineAsync("still here");
        Assert.Equal("still here", await NextLineAsync(reader));
        Assert.True(rssAfter - rssBefore < 12L << 20, $"the server's memory grew by {(rssAfter - rssBefore) >> 20} MiB while 16 MiB passed a client that never read");
    }

    [Fact(Timeout = Timeout)]
    public async Task Netcat_and_socat_clients_hear_each_other_through_the_relay()
    {
        var (server, port) = await CliProcess.StartServerAsync("--handler", "relay");
        await using var _ = server;
        var address = port.ToString(CultureInfo.InvariantCulture);

        using var watcher = await WatcherAsync(port);
        using var nc = InteractiveTool.Start("nc", "netcat-openbsd", "127.0.0.1", address);
        await nc.SendLineAsync("hello from nc");
        await ExpectAsync(watcher, "hello from nc");
        using var socat = InteractiveTool.Start("socat", "socat", "-", $"TCP:127.0.0.1:{address}");
        await socat.SendLineAsync("hello from socat");
        await ExpectAsync(watcher, "hello from socat");

        Assert.Equal("hello from socat", await nc.ReadLineAsync());
        await nc.SendLineAsync("nc says hi");
        Assert.Equal("nc says hi", await socat.ReadLineAsync());
        await socat.SendLineAsync("socat says hi\r");
        Assert.Equal("socat says hi", await nc.ReadLineAsync());

        // A one-shot netcat that sends a line and leaves is heard by everyone still there.
        await ExternalToolRun("nc", ["-N", "127.0.0.1", address], "passing through\n");
        Assert.Equal("passing through", await nc.ReadLineAsync());
        Assert.Equal("passing through", await socat.ReadLineAsync());
    }

    private const int Timeout = Timeouts.Process;

    /// <summary>A client known to be in the relay: another's line reached it. Lines sent before it joined reach no one.</summary>
    private static async Task<LineClient> WatcherAsync(int port)
    {
        var watcher = await LineClient.ConnectAsync(port);
        using var pinger = await LineClient.ConnectAsync(port);
        var first = watcher.ReadLineAsync();
        while (true)
        {
            // Until the relay has both, a ping reaches no one: ping again, at the pace of a retry, until one arrives.
            await pinger.SendLineAsync("ping");
            if (await Task.WhenAny(first, Task.Delay(TimeSpan.FromMilliseconds(100), Token)) == first)
            {
                Assert.Equal("ping", await first);

                // A ping sent before the first one arrived may still be on its way, and would reach whoever joins next.
                // The relay passes one client's lines on in order: once the watcher hears the pinger's last line, none is.
                await pinger.SendLineAsync("pinged");
                await ExpectAsync(watcher, "pinged");
                return watcher;
            }
        }
    }

    /// <summary>Connects a client and waits until the watcher hears its hello: from then on it hears every line sent.</summary>
    private static async Task<LineClient> JoinAsync(LineClient watcher, int port, string name)
    {
        var client = await LineClient.ConnectAsync(port);
        await client.SendLineAsync($"hello {name}");
        await ExpectAsync(watcher, $"hello {name}");
        return client;
    }

    /// <summary>Reads until <paramref name="expected"/>, past any ping or hello the client heard before.</summary>
    private static async Task ExpectAsync(LineClient client, string expected)
    {
        string line;
        do
        {
            line = await client.ExpectLineAsync();
        }
        while (line != expected && IsJoining(line));

        Assert.Equal(expected, line);
    }

    /// <summary>The next line that is not a ping or a hello: a client may hear others join, and a late ping.</summary>
    private static async Task<string> NextLineAsync(LineClient client)
    {
        string line;
        do
        {
            line = await client.ExpectLineAsync();
        }
        while (IsJoining(line));

        return line;
    }

    private static bool IsJoining(string line) => line == "ping" || line.StartsWith("hello ", StringComparison.Ordinal);

    /// <summary>Reads every other client's lines, checking each whole and in its sender's order; returns how many came.</summary>
    private static async Task<int> ReceiveFromOthersAsync(LineClient client, int self, int clients, int linesEach)
    {
        var next = new int[clients];
        var received = 0;
        while (received < (clients - 1) * linesEach)
        {
            var line = await NextLineAsync(client);
            var sender = int.Parse(line.AsSpan(0, line.IndexOf(' ', StringComparison.Ordinal)), CultureInfo.InvariantCulture);
            Assert.NotEqual(self, sender);
            Assert.Equal(Line(sender, next[sender]), line);
            next[sender]++;
            received++;
        }

        return received;
    }

    /// <summary>Line <paramref name="sequence"/> of client <paramref name="sender"/>: its number, then text of a length that varies.</summary>
    private static string Line(int sender, int sequence, int length = 0)
    {
        var head = $"{sender} {sequence} ";
        var fill = length > 0 ? length - head.Length : 10 + ((sender * 31) + (sequence * 17)) % 100;
        return head + new string((char)('a' + ((sender + sequence) % 26)), fill);
    }

    private static long ResidentBytes(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").Single(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }

    /// <summary>Reads what is left until the server's end shows: a reset, or the end of the stream.</summary>
    private static async Task AssertEndedAsync(Socket socket)
    {
        var buffer = new byte[256 * 1024];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, Token) > 0)
            {
            }
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
            // Ended with a reset: what the server still held for it was dropped.
        }
    }

    private static async Task ExternalToolRun(string tool, string[] arguments, string input)
    {
        var (exitCode, _, error) = await Protocols.ExternalTool.RunAsync(Protocols.ExternalTool.Require(tool, "netcat-openbsd"), arguments, input);
        Assert.True(exitCode == 0, error);
    }
}
