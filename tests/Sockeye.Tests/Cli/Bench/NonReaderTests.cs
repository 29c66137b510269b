extern alias bench;

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using bench::Sockeye.Cli.Bench;
using bench::Sockeye.Cli.Bench.Native;

namespace Sockeye.Tests.Cli.Bench;

/// <summary>
/// A never-reading subscriber of <c>sockeye bench broadcast</c> against a bare socket standing in for the server: it must
/// stall the server's sends the way a client across a real network would, within about a hundred KiB rather than the
/// megabytes loopback's 64 KiB segment would let the server's kernel absorb, and be counted once the server ends it.
/// </summary>
public class NonReaderTests
{
    // Linux sizes a loopback connection's send buffer at about 2.5 MiB; with a 1,460-byte segment, about 90 KiB.
    private const int MostTheServerMayQueue = 1024 * 1024;

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_never_reading_subscriber_stalls_the_server_within_a_small_buffer_and_is_counted_once_ended()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var control = new BenchControl();
        var state = new BroadcastState(publishers: 1, subscribers: 1, nonReaderFraction: 1, window: 64);
        using var loop = new LoadLoop(0, control, new NativeEndPoint((IPEndPoint)listener.LocalEndPoint!), maxConnecting: 1);
        var subscriber = new SubscriberConnection(loop, 0, state, size: 1024);
        Assert.False(subscriber.Reads);
        loop.Add(subscriber);
        loop.Start();
        try
        {
            using var server = await listener.AcceptAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
            server.Blocking = false;

            var queued = FillUntilStalled(server);

            Assert.True(queued < MostTheServerMayQueue, $"the server's kernel took {queued:N0} bytes for a client that never reads");
            Assert.Equal(0, state.NonReadersEnded);

            // The server gives up on it, as a relay does with a slow reader: the client sees the reset and counts it.
            server.LingerState = new LingerOption(true, 0);
            server.Close();
            Assert.True(await WaitUntilAsync(() => state.NonReadersEnded == 1), "the ended subscriber was not counted");

            // Counted first, then finished, on the loop's thread: wait for the second too rather than catch it between.
            Assert.True(await WaitUntilAsync(() => subscriber.IsFinished), "the ended subscriber was counted but did not finish");
        }
        finally
        {
            control.Enter(BenchPhase.Draining);
            control.Enter(BenchPhase.Stopped);
            Assert.True(loop.Join(TimeSpan.FromSeconds(10)));
        }
    }

    /// <summary>Sends until the socket takes nothing more for half a second (bounded at 16 MiB); returns the bytes it took.</summary>
    private static long FillUntilStalled(Socket server)
    {
        var chunk = new byte[16 * 1024];
        long queued = 0;
        while (queued < 16 * 1024 * 1024)
        {
            var sent = server.Send(chunk, SocketFlags.None, out var error);
            if (error == SocketError.WouldBlock)
            {
                if (!server.Poll(TimeSpan.FromMilliseconds(500), SelectMode.SelectWrite))
                {
                    break;
                }

                continue;
            }

            Assert.Equal(SocketError.Success, error);
            queued += sent;
        }

        return queued;
    }

    private static async Task<bool> WaitUntilAsync(Func<bool> condition)
    {
        var deadline = Stopwatch.GetTimestamp() + (Stopwatch.Frequency * 10);
        while (!condition())
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                return false;
            }

            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        return true;
    }
}
