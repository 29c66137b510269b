using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using Sockeye.Tests.Infrastructure;
using Sockeye.Tests.Protocols;

namespace Sockeye.Tests.Samples;

/// <summary>
/// samples/Resp run as a process and driven by the real <c>redis-cli</c> (Debian's redis-tools, installed by
/// eng/install-test-deps.sh; on CI its absence fails these tests).
/// </summary>
public class RespSampleTests
{
    private const string NotInteger = "-ERR value is not an integer or out of range\r\n";
    private const string InvalidExpire = "-ERR invalid expire time in 'set' command\r\n";

    private static readonly string s_samplePath = typeof(RespSampleTests).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "RespSamplePath").Value!;

    [Fact(Timeout = Timeouts.Process)]
    public async Task Redis_cli_sets_gets_increments_and_deletes_as_with_Redis()
    {
        var cli = ExternalTool.Require("redis-cli", "redis-tools");
        await using var sample = await StartAsync();

        // What redis-cli prints against Redis 7.0 for the same commands (checked against Debian's redis-server).
        (string[] Command, string Output)[] exchanges =
        [
            (["SET", "greeting", "hello world"], "OK"),
            (["GET", "greeting"], "hello world"),
            (["GET", "missing"], ""),
            (["SET", "n", "41"], "OK"),
            (["INCR", "n"], "42"),
            (["INCRBY", "n", "-50"], "-8"),
            (["DECR", "n"], "-9"),
            (["INCR", "greeting"], "ERR value is not an integer or out of range"),
            (["MSET", "a", "1", "b", "2"], "OK"),
            (["MGET", "a", "missing", "b"], "1\n\n2"),
            (["SET", "a", "x", "NX"], ""),
            (["SET", "c", "3", "XX"], ""),
            (["EXISTS", "a", "b", "c", "a"], "3"),
            (["DEL", "a", "c", "greeting"], "2"),
            (["DBSIZE"], "2"),
            (["ECHO", "hi"], "hi"),
            (["PING"], "PONG"),
            (["get"], "ERR wrong number of arguments for 'get' command"),
            (["NOPE", "x"], "ERR unknown command 'NOPE', with args beginning with: 'x' "),
            (["FLUSHALL"], "OK"),
            (["DBSIZE"], "0"),
        ];
        foreach (var exchange in exchanges)
        {
            var (exitCode, output, error) = await ExternalTool.RunAsync(cli, ["-p", sample.Port, .. exchange.Command], string.Empty);
            Assert.True(exitCode == 0, $"redis-cli {string.Join(' ', exchange.Command)} failed: {error}");
            Assert.Equal(exchange.Output, output.TrimEnd('\n'));
        }
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Redis_cli_stores_a_value_of_10_MiB_and_the_request_size_is_an_option()
    {
        var cli = ExternalTool.Require("redis-cli", "redis-tools");
        var value = string.Create(10 << 20, 0, static (span, _) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = (char)('a' + (i % 26));
            }
        });
        await using (var sample = await StartAsync())
        {
            var (exitCode, output, error) = await ExternalTool.RunAsync(cli, ["-p", sample.Port, "-x", "SET", "big"], value);
            Assert.True(exitCode == 0 && output == "OK\n", $"redis-cli -x SET big: {output}{error}");
            Assert.Equal(value + "\n", (await ExternalTool.RunAsync(cli, ["-p", sample.Port, "GET", "big"], string.Empty)).Output);
        }

        // Held to 1 MiB, the server resets the connection that sends more, and takes what fits.
        await using (var sample = await StartAsync("--max-request-size", "1m"))
        {
            Assert.NotEqual("OK\n", (await ExternalTool.RunAsync(cli, ["-p", sample.Port, "-x", "SET", "big"], value[..(2 << 20)])).Output);
            Assert.Equal("OK\n", (await ExternalTool.RunAsync(cli, ["-p", sample.Port, "-x", "SET", "small"], value[..(1 << 19)])).Output);
        }
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Info_counts_the_keys_with_a_deadline()
    {
        var cli = ExternalTool.Require("redis-cli", "redis-tools");
        await using var sample = await StartAsync();
        using var client = await TestClient.ConnectAsync(sample.EndPoint);
        await client.SendAsync("SET a 1 EX 100\r\nSET b 2\r\nSET c 3 PX 100000\r\nSET c 4\r\n");
        Assert.Equal("+OK\r\n+OK\r\n+OK\r\n+OK\r\n", Encoding.ASCII.GetString(await client.ReceiveExactlyAsync(20)));

        var (_, output, _) = await ExternalTool.RunAsync(cli, ["-p", sample.Port, "INFO"], string.Empty);

        Assert.Contains("db0:keys=3,expires=1,avg_ttl=0", output, StringComparison.Ordinal);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Keys_set_with_a_deadline_expire()
    {
        var cli = ExternalTool.Require("redis-cli", "redis-tools");
        await using var sample = await StartAsync();
        using var client = await TestClient.ConnectAsync(sample.EndPoint);

        await client.SendAsync("SET short v PX 50\r\nSET long v EX 100\r\nSET bad v EX 0\r\nSET bad v EX x\r\nSET bad v NX XX\r\n");
        const string replies = "+OK\r\n+OK\r\n-ERR invalid expire time in 'set' command\r\n-ERR value is not an integer or out of range\r\n-ERR syntax error\r\n";
        Assert.Equal(replies, Encoding.ASCII.GetString(await client.ReceiveExactlyAsync(replies.Length)));

        // The short key lives 50 ms: poll until it is gone, bounded by the test's timeout.
        while ((await ExternalTool.RunAsync(cli, ["-p", sample.Port, "EXISTS", "short"], string.Empty)).Output != "0\n")
        {
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }

        Assert.Equal("1\n", (await ExternalTool.RunAsync(cli, ["-p", sample.Port, "EXISTS", "long"], string.Empty)).Output);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Pipelined_commands_each_get_their_reply_in_order()
    {
        var cli = ExternalTool.Require("redis-cli", "redis-tools");
        await using var sample = await StartAsync();

        // redis-cli --pipe streams commands without waiting for replies, as mass insertion does.
        var commands = string.Concat(Enumerable.Range(0, 20_000).Select(i => $"*3\r\n$3\r\nSET\r\n$6\r\nk{i:D5}\r\n$1\r\nv\r\n"));
        var (exitCode, output, _) = await ExternalTool.RunAsync(cli, ["-p", sample.Port, "--pipe"], commands);

        Assert.Equal(0, exitCode);
        Assert.Contains("errors: 0, replies: 20000", output, StringComparison.Ordinal);
        Assert.Equal("20000\n", (await ExternalTool.RunAsync(cli, ["-p", sample.Port, "DBSIZE"], string.Empty)).Output);

        // Inline and multibulk commands in one write: every reply, in order.
        using var client = await TestClient.ConnectAsync(sample.EndPoint);
        await client.SendAsync("PING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nINCR n\r\n*1\r\n$4\r\nPING\r\nGET k00007\r\nQUIT\r\nPING\r\n");
        Assert.Equal("+PONG\r\n$2\r\nhi\r\n:1\r\n+PONG\r\n$1\r\nv\r\n+OK\r\n", await client.ReceiveTextToEndAsync());
    }

    [Theory(Timeout = Timeouts.Process)]
    [InlineData("*1\r\n$x\r\n", "-ERR Protocol error: invalid bulk length\r\n")]
    [InlineData("*2\r\n$3\r\nGET\r\n$1\r\nab\r\n", "-ERR Protocol error: a bulk string does not end with CRLF\r\n")]
    [InlineData("*1\r\n$100000000\r\n", null)]
    [InlineData("*1\r\n\r\n", "-ERR Protocol error: expected '$', got ' '\r\n")]   // never a raw CR in an error line
    public async Task Malformed_input_ends_only_its_own_connection(string malformed, string? reply)
    {
        var cli = ExternalTool.Require("redis-cli", "redis-tools");
        await using var sample = await StartAsync();
        using var bystander = await TestClient.ConnectAsync(sample.EndPoint);
        await bystander.SendAsync("SET k before\r\n");
        Assert.Equal("+OK\r\n", Encoding.ASCII.GetString(await bystander.ReceiveExactlyAsync(5)));

        using (var offender = await TestClient.ConnectAsync(sample.EndPoint))
        {
            await offender.SendAsync("PING\r\n" + malformed + "PING\r\n");
            if (reply is not null)
            {
                Assert.Equal("+PONG\r\n" + reply, await offender.ReceiveTextToEndAsync());
            }
            else
            {
                // A bulk length over the maximum aborts the connection at once (MessageTooLarge): a reset, or an end
                // with nothing after the first PONG.
                try
                {
                    var received = await offender.ReceiveTextToEndAsync();
                    Assert.Contains(received, new[] { string.Empty, "+PONG\r\n" });
                }
                catch (System.Net.Sockets.SocketException error) when (error.SocketErrorCode == System.Net.Sockets.SocketError.ConnectionReset)
                {
                }
            }
        }

        await bystander.SendAsync("GET k\r\n");
        Assert.Equal("$6\r\nbefore\r\n", Encoding.ASCII.GetString(await bystander.ReceiveExactlyAsync(12)));
        Assert.Equal("before\n", (await ExternalTool.RunAsync(cli, ["-p", sample.Port, "GET", "k"], string.Empty)).Output);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Hello_3_is_refused_and_the_connection_goes_on_in_RESP2()
    {
        await using var sample = await StartAsync();
        using var client = await TestClient.ConnectAsync(sample.EndPoint);

        await client.SendAsync("HELLO 3\r\nHELLO 4\r\nCONFIG GET save\r\nCOMMAND COUNT\r\nQUIT\r\n");
        var replies = await client.ReceiveTextToEndAsync();

        // Redis 7.0's words for a version it does not know (HELLO 4).
        Assert.StartsWith("-NOPROTO unsupported protocol version\r\n-NOPROTO unsupported protocol version\r\n*2\r\n$4\r\nsave\r\n$0\r\n\r\n:", replies, StringComparison.Ordinal);
        Assert.EndsWith("\r\n+OK\r\n", replies, StringComparison.Ordinal);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Config_get_answers_a_pathological_glob_at_once_and_the_server_goes_on()
    {
        await using var sample = await StartAsync();
        using (var client = await TestClient.ConnectAsync(sample.EndPoint))
        {
            // 120,000 stars overflowed the stack of a recursive matcher, and 40 stars before a 'z' took it minutes.
            await client.SendAsync(Config(new string('*', 120_000)) + Config(new string('*', 40) + "z") + "QUIT\r\n");
            Assert.Equal(
                "*8\r\n$4\r\nsave\r\n$0\r\n\r\n$10\r\nappendonly\r\n$2\r\nno\r\n$9\r\ndatabases\r\n$1\r\n1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n*0\r\n+OK\r\n",
                await client.ReceiveTextToEndAsync());
        }

        Assert.Equal("+PONG\r\n+OK\r\n", await TestClient.ExchangeAsync(sample.EndPoint, "PING\r\nQUIT\r\n"));

        static string Config(string pattern) => $"*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n${pattern.Length}\r\n{pattern}\r\n";
    }

    [Theory(Timeout = Timeouts.Process)]
    // FLUSHALL and FLUSHDB take only ASYNC or SYNC: anything else is a syntax error, and the keys stay.
    [InlineData(
        "SET k v\r\nFLUSHALL bogus\r\nFLUSHDB bogus\r\nFLUSHALL a b\r\nDBSIZE\r\nFLUSHALL async\r\nDBSIZE\r\nSET k v\r\nFLUSHDB SYNC\r\nDBSIZE\r\nQUIT\r\n",
        "+OK\r\n-ERR syntax error\r\n-ERR syntax error\r\n-ERR syntax error\r\n:1\r\n+OK\r\n:0\r\n+OK\r\n+OK\r\n:0\r\n+OK\r\n")]

    // QUIT closes the connection whatever arguments follow it.
    [InlineData("*2\r\n$4\r\nQUIT\r\n$1\r\nx\r\n", "+OK\r\n")]

    // Integers as Redis's string2ll reads them (no '+', no leading zero, no "-0"), in arguments and stored values alike.
    [InlineData(
        "SET n 1\r\nINCRBY n +5\r\nINCRBY n 05\r\nINCRBY n -0\r\nDECRBY n 1\r\nSET s 007\r\nINCR s\r\nSET s +7\r\nINCR s\r\nSET s -0\r\nDECR s\r\n"
            + "SET k v EX +5\r\nSET k v EX 05\r\nEXISTS k\r\nQUIT\r\n",
        "+OK\r\n" + NotInteger + NotInteger + NotInteger + ":0\r\n+OK\r\n" + NotInteger + "+OK\r\n" + NotInteger + "+OK\r\n" + NotInteger
            + NotInteger + NotInteger + ":0\r\n+OK\r\n")]

    // As Redis 7: SET options may repeat (the last EX or PX counts, checked once all are read) but not contradict each
    // other; SELECT and DECRBY errors; an unknown command's name and arguments cut at 128 bytes.
    [InlineData(
        "SET k v NX NX\r\nSET k v XX XX EX 10 EX 20\r\nSET k v NX XX\r\nSET k v EX 10 PX 20\r\nSET k v EX abc EX 10\r\n"
            + "SELECT abc\r\nSELECT 1\r\nSELECT 0\r\nDECRBY n -9223372036854775808\r\n"
            + "NOPE aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa b\r\n"
            + "NOPE 1234567890 1234567890 1234567890 1234567890 1234567890 1234567890 1234567890 1234567890 1234567890 1234567890 1234567890\r\nQUIT\r\n",
        "+OK\r\n+OK\r\n-ERR syntax error\r\n-ERR syntax error\r\n+OK\r\n" + NotInteger + "-ERR DB index is out of range\r\n+OK\r\n"
            + "-ERR decrement would overflow\r\n"
            + "-ERR unknown command 'NOPE', with args beginning with: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' \r\n"
            + "-ERR unknown command 'NOPE', with args beginning with: '1234567890' '1234567890' '1234567890' '1234567890' '1234567890' '1234567890' '1234567890' '1234567890' '1234567890' '1234567890' \r\n+OK\r\n")]

    // Inline words in quotes, as Redis's sdssplitargs reads them; an unbalanced quote is a protocol error, which closes.
    [InlineData(
        "SET qk \"hello world\"\r\nGET qk\r\nSET q2 'it\\'s'\r\nGET q2\r\nECHO \"\\x41\\tb\"\r\nSET x \"a\r\nPING\r\n",
        "+OK\r\n$11\r\nhello world\r\n+OK\r\n$4\r\nit's\r\n$3\r\nA\tb\r\n-ERR Protocol error: unbalanced quotes in request\r\n")]

    // EX and PX each as large as the deadline allows, not PX held to EX's limit.
    [InlineData(
        "SET k v PX 9000000000000000000\r\nSET k v EX 9000000000000000\r\nSET k v PX 9223372036854775807\r\nSET k v EX 9300000000000000\r\nQUIT\r\n",
        "+OK\r\n+OK\r\n" + InvalidExpire + InvalidExpire + "+OK\r\n")]
    public async Task Commands_get_the_replies_Redis_gives_until_QUIT_closes_the_connection(string commands, string replies)
    {
        await using var sample = await StartAsync();
        using var client = await TestClient.ConnectAsync(sample.EndPoint);

        await client.SendAsync(commands);

        Assert.Equal(replies, await client.ReceiveTextToEndAsync());
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task An_MGET_whose_reply_the_client_does_not_read_is_held_by_backpressure_not_in_memory()
    {
        await using var sample = await StartAsync();
        using var client = await TestClient.ConnectAsync(sample.EndPoint);
        var value = new string('v', 100_000);
        await client.SendAsync($"*3\r\n$3\r\nSET\r\n$1\r\nv\r\n${value.Length}\r\n{value}\r\n");
        Assert.Equal("+OK\r\n", Encoding.ASCII.GetString(await client.ReceiveExactlyAsync(5)));
        var before = ResidentBytes(sample.Process.Id);

        // 9 KB of request for 100 MB of reply. Once its first bytes arrive, the server has flushed: had it written
        // the whole reply first, the 100 MB would be in its memory now; written as it goes, the send buffer's
        // backpressure stops the handler a few hundred KB in.
        const int Keys = 1000;
        await client.SendAsync($"*{Keys + 1}\r\n$4\r\nMGET\r\n" + string.Concat(Enumerable.Repeat("$1\r\nv\r\n", Keys)));
        Assert.Equal($"*{Keys}\r\n$100000\r\nvvv", Encoding.ASCII.GetString(await client.ReceiveExactlyAsync(19)));

        var grown = ResidentBytes(sample.Process.Id) - before;
        Assert.True(grown < 30_000_000, $"the server's memory grew by {grown:N0} bytes while its client did not read");
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task A_command_typed_slowly_is_still_answered()
    {
        // The sample runs as a process on the system clock, so the gap is real: longer than the library's 5 s grace
        // for its minimum data rate (240 B/s), which the sample turns off, as Redis has no such limit.
        await using var sample = await StartAsync();
        using var client = await TestClient.ConnectAsync(sample.EndPoint);

        await client.SendAsync("ECHO he");
        await Task.Delay(TimeSpan.FromSeconds(7), TestContext.Current.CancellationToken);
        await client.SendAsync("llo\r\nQUIT\r\n");

        Assert.Equal("$5\r\nhello\r\n+OK\r\n", await client.ReceiveTextToEndAsync());
    }

    [Theory(Timeout = Timeouts.Process)]
    [InlineData("70000", "sockeye-resp: --port needs a number from 0 to 65535, not '70000'.")]
    [InlineData("x", "sockeye-resp: --port needs a number from 0 to 65535, not 'x'.")]
    [InlineData("2g", "sockeye-resp: --max-request-size needs a size from 1k to 1g (bytes, or with k, m or g), not '2g'.", "--max-request-size")]
    public async Task A_bad_port_or_request_size_is_one_clear_line(string port, string line, string option = "--port")
    {
        await using var sample = CliProcess.StartDotnet(s_samplePath, [option, port]);

        Assert.Equal(2, await sample.WaitForExitAsync());
        Assert.Equal([line], sample.StandardError);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task A_port_in_use_is_one_clear_line_and_SIGTERM_stops_the_server_cleanly()
    {
        await using var first = await StartAsync();
        await using var second = CliProcess.StartDotnet(s_samplePath, ["--port", first.Port]);

        Assert.Equal(2, await second.WaitForExitAsync());
        Assert.Single(second.StandardError);
        Assert.StartsWith($"sockeye-resp: cannot listen on 127.0.0.1:{first.Port}: ", second.StandardError[0], StringComparison.Ordinal);

        // An idle client that never ends its side does not hold the shutdown up (the library's 2 s linger would).
        using var idle = await TestClient.ConnectAsync(first.EndPoint);
        var stopping = System.Diagnostics.Stopwatch.StartNew();
        first.Process.Signal(PosixSignal.SIGTERM);
        Assert.Equal(string.Empty, await idle.ReceiveTextToEndAsync());
        await first.Process.WaitForStandardOutputAsync("^Stopped$");
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(2), $"stopping took {stopping.Elapsed}");
        Assert.Equal(0, await first.Process.WaitForExitAsync());
        Assert.Equal("Stopped", first.Process.StandardOutput[^1]);
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task A_second_SIGTERM_aborts_a_stop_that_waits_on_a_half_sent_command()
    {
        await using var sample = await StartAsync();
        using var client = await TestClient.ConnectAsync(sample.EndPoint);
        // A whole PING, then half of another in the same send: once the first is answered, the server holds the half,
        // and the graceful stop waits for the rest (up to the sample's 5 s).
        await client.SendAsync("PING\r\n*1\r\n$4\r\nPI");
        Assert.Equal("+PONG\r\n"u8.ToArray(), await client.ReceiveExactlyAsync(7));

        var stopping = System.Diagnostics.Stopwatch.StartNew();
        sample.Process.Signal(PosixSignal.SIGTERM);

        // The second only once the first has been taken (the listener has closed): two SIGTERMs pending at once are one.
        while (await AcceptsAsync(sample.EndPoint))
        {
        }

        sample.Process.Signal(PosixSignal.SIGTERM);

        Assert.Equal(0, await sample.Process.WaitForExitAsync());
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(3), $"stopping took {stopping.Elapsed} (the graceful stop's timeout is 5 s)");
        Assert.Equal("Stopped", sample.Process.StandardOutput[^1]);
    }

    private static async Task<bool> AcceptsAsync(IPEndPoint endPoint)
    {
        try
        {
            using var probe = await TestClient.ConnectAsync(endPoint);
            return true;
        }
        catch (SocketException error) when (error.SocketErrorCode is SocketError.ConnectionRefused or SocketError.ConnectionReset)
        {
            // Refused once the listener has closed; reset while it closes with this connection in its queue.
            return false;
        }
    }

    /// <summary>A process's resident memory, from /proc.</summary>
    private static long ResidentBytes(int processId)
    {
        var line = File.ReadLines($"/proc/{processId}/status").Single(line => line.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line["VmRSS:".Length..^"kB".Length], NumberStyles.AllowLeadingWhite | NumberStyles.AllowTrailingWhite, CultureInfo.InvariantCulture) * 1024;
    }

    private static async Task<Sample> StartAsync(params string[] options)
    {
        var process = CliProcess.StartDotnet(s_samplePath, ["--port", "0", .. options]);
        var match = await process.WaitForStandardOutputAsync(@"^Listening on 127\.0\.0\.1:(\d+)$");
        return new Sample(process, match.Groups[1].Value);
    }

    private sealed record Sample(CliProcess Process, string Port) : IAsyncDisposable
    {
        public IPEndPoint EndPoint => new(IPAddress.Loopback, int.Parse(Port, CultureInfo.InvariantCulture));

        public ValueTask DisposeAsync() => Process.DisposeAsync();
    }
}
