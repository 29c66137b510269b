using System.Net;
using System.Runtime.InteropServices;
using Sockeye.Tests.Infrastructure;
using static Sockeye.Tests.Infrastructure.CliProcess;

namespace Sockeye.Tests.Cli;

/// <summary>
/// <c>sockeye serve</c> when nobody reads its standard error: a stalled log shipper, a pager left alone. It goes on
/// serving, and a SIGTERM still ends it.
/// </summary>
public class UnreadConsoleTests
{
    // Enough connections for their log lines (two each at debug level, about 60 bytes a line) to fill a pipe (64 KiB)
    // and the log's queue (2500 lines) twice over.
    private const int Connections = 4000;

    // Far below the test's timeout: a client of an event loop held by the log would wait for ever.
    private static readonly TimeSpan s_exchangeTimeout = TimeSpan.FromSeconds(10);

    // The drain timeout (2 s here) and the 2 s that closing gives a stream that takes nothing, with room to spare.
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
}
