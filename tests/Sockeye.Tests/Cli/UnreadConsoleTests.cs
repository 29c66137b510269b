using System.Net;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Sockeye.Tests.Infrastructure;
using static Sockeye.Tests.Infrastructure.CliProcess;

namespace Sockeye.Tests.Cli;

/// <summary>
/// <c>sockeye serve</c> when nobody reads its standard error or its standard output: a stalled log shipper, a pager
/// left alone. It goes on serving, and a SIGTERM still ends it.
/// </summary>
public class UnreadConsoleTests
{
    // Enough connections for their log lines (two each at debug level, about 60 bytes a line) to fill a pipe (64 KiB)
    // and the log's queue (2500 lines) twice over.
    private const int Connections = 4000;

    // Far below the test's timeout: a client of an event loop held by the log would wait for ever.
    private static readonly TimeSpan s_exchangeTimeout = TimeSpan.FromSeconds(10);

    // The drain timeout (1 or 2 s here) and the 2 s that closing gives a stream that takes nothing, with room to spare.
    private static readonly TimeSpan s_exitTimeout = TimeSpan.FromSeconds(15);

    [Theory(Timeout = Timeouts.Process)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task With_standard_error_unread_the_server_goes_on_serving_and_a_sigterm_ends_it(bool readAgain)
    {
        var (server, port) = await StartServerAsync(Unread.StandardError, "--handler", "eof-echo", "--log-level", "debug", "--drain-timeout", "2");
        await using var _ = server;
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);

        for (var i = 0; i < Connections; i++)
        {
            Assert.Equal("ping<EOF>", await TestClient.ExchangeAsync(endPoint, "ping<EOF>").WaitAsync(s_exchangeTimeout, TestContext.Current.CancellationToken));
        }

        if (readAgain)
        {
            // Once standard error takes lines again, one says how many it missed.
            server.ResumeStandardError();
            await server.WaitForStandardErrorAsync(@"^warning: \d+ log line\(s\) dropped: standard error was not being read$");
        }

        server.Signal(PosixSignal.SIGTERM);
        Assert.Equal(0, await server.WaitForExitAsync().WaitAsync(s_exitTimeout, TestContext.Current.CancellationToken));
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task With_standard_output_unread_a_sigterm_ends_print_after_the_drain_timeout_and_says_what_was_not_written()
    {
        var (server, port) = await StartServerAsync(Unread.StandardOutput, "--handler", "print", "--max-message-size", "8MiB", "--drain-timeout", "1");
        await using var _ = server;
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        var message = new byte[2 * 1024 * 1024];
        message.AsSpan().Fill((byte)'x');

        // The first report is more than the pipe holds: the output's writer is in a write that never returns. The second
        // waits in the queue, which it fills; both handlers return, and their clients see the end.
        using (var first = await SendAndEndAsync(endPoint, message))
        {
            Assert.Empty(await first.ReceiveToEndAsync());
        }

        using (var second = await SendAndEndAsync(endPoint, message))
        {
            Assert.Empty(await second.ReceiveToEndAsync());
        }

        // The third handler finds the queue full and waits for room, which never comes: the stop must end the wait.
        using var third = await SendAndEndAsync(endPoint, message);
        server.Signal(PosixSignal.SIGTERM);

        Assert.Equal(0, await server.WaitForExitAsync().WaitAsync(s_exitTimeout, TestContext.Current.CancellationToken));
        Assert.Contains("warning: 1 connection(s) did not finish in time and were aborted", server.StandardError);
        Assert.DoesNotContain(server.StandardError, line => line.Contains("had not returned", StringComparison.Ordinal));
        Assert.Contains(server.StandardError, line => Regex.IsMatch(line, @"^warning: \d+ line\(s\) \(\d+ bytes\) of handler output lost: standard output took nothing for 2 s$"));
    }

    private static async Task<TestClient> SendAndEndAsync(EndPoint endPoint, byte[] message)
    {
        var client = await TestClient.ConnectAsync(endPoint);
        await client.SendAsync(message);
        client.HalfClose();
        return client;
    }
}
