using System.Diagnostics;
using Sockeye.Protocols;
using Sockeye.Tests.Infrastructure;
using Sockeye.Tests.Protocols;
using Sockeye.Tests.Transport;

namespace Sockeye.Tests.Robustness;

/// <summary>
/// Receive backpressure through TLS: the plaintext pipe between the TLS layer and the handler pauses like the
/// socket's own, so a handler that falls behind stops the server reading the socket at all (issue 17, item 5: turning
/// receive pausing off also turned it off here, and no test noticed).
/// </summary>
public class TlsBackpressureTests
{
    private const int ReceiveBuffer = 64 * 1024;

    // Both pipes full (the plaintext one and the socket's), a TLS record and a socket read over each: far below this.
    private const long Bound = 1024 * 1024;

    private static Task<TestServer> StartAsync(Func<Connection, Task> handler) =>
        TestServer.StartAsync(handler, o =>
        {
            o.MaxMessageSize = 16 * 1024;
            o.MaxReceiveBufferSize = ReceiveBuffer;
            o.Listeners[0].Tls = new TlsOptions(TestCertificates.Server);
        });

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_TLS_handler_that_falls_behind_stops_the_server_reading_the_socket()
    {
        var full = new TaskCompletionSource<Connection>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await StartAsync(
            async connection =>
            {
                // Look at everything, consume nothing: the handler has fallen behind.
                var input = connection.Transport.Input;
                var result = await BackpressureTests.FallBehindAsync(input, ReceiveBuffer);
                input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
                full.TrySetResult(connection);
                await connection.CloseRequested.WhenCanceled();
            });
        await using var client = await TlsClient.ConnectAsync(server.EndPoint);

        // Far more than any buffer: with backpressure the writes stall in the client's kernel, without it the server
        // takes them all into memory.
        var sent = 0L;
        var sending = Task.Run(async () =>
        {
            var chunk = new byte[64 * 1024];
            for (var i = 0; i < 2048; i++)
            {
                await client.Ssl.WriteAsync(chunk, TestContext.Current.CancellationToken);
                Interlocked.Add(ref sent, chunk.Length);
            }
        }, TestContext.Current.CancellationToken);
        var connection = await Guard.ExpectAsync(full.Task, "TLS: the handler never saw its receive buffer's worth of plaintext", TimeSpan.FromSeconds(15));

        // Watch the server's socket reads until the client's writes have stalled for a while: then the server has
        // stopped reading. Without pausing, the server reads past the bound within milliseconds.
        var stalled = Stopwatch.StartNew();
        var lastSent = -1L;
        while (stalled.Elapsed < TimeSpan.FromMilliseconds(500))
        {
            Assert.True(
                connection.BytesReceived <= Bound,
                $"TLS receive backpressure: the server read {connection.BytesReceived:N0} bytes from the socket for a handler that consumed none (receive buffer {ReceiveBuffer:N0}); the plaintext side of TLS does not pause.");
            Assert.False(sending.IsCompleted, $"TLS receive backpressure: the client wrote all {Interlocked.Read(ref sent):N0} bytes to a handler that consumed none; the server never stopped reading.");
            if (Interlocked.Read(ref sent) != lastSent)
            {
                lastSent = Interlocked.Read(ref sent);
                stalled.Restart();
            }

            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        Assert.InRange(server.Server.Context.MemoryPool.RentedBlocks, 1, Bound / 4096);
        client.Tcp.Reset();
        await Assert.ThrowsAnyAsync<Exception>(() => sending);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_message_that_fills_the_plaintext_input_after_a_smaller_one_still_arrives_whole()
    {
        // As BackpressureTests' test of the same name, through TLS: the plaintext input fills and pauses holding a 20 KiB
        // line and 44 KiB of a 50 KiB one; once the first is consumed, the reader waits for the rest of the second.
        var first = new string('a', 20 * 1024);
        var second = new string('b', 50 * 1024);
        await using var server = await TestServer.StartAsync(
            BackpressureTests.FallBehindThenAnswerLineLengthsAsync,
            o =>
            {
                o.MaxMessageSize = 60 * 1024;
                o.MaxReceiveBufferSize = ReceiveBuffer;
                o.Listeners[0].Tls = new TlsOptions(TestCertificates.Server);
            });
        await using var client = await TlsClient.ConnectAsync(server.EndPoint);

        await client.SendAsync(first + "\n" + second + "\n");
        await client.Ssl.ShutdownAsync();

        Assert.Equal($"{first.Length}\n{second.Length}\n", await client.ReceiveTextToEndAsync().WithTestTimeout());
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Plaintext_the_handler_examined_but_did_not_consume_counts_against_the_receive_buffer()
    {
        var heldAfterPause = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await StartAsync(connection =>
            BackpressureTests.HoldAndMeasureAsync(connection, () => ((TlsTransport)connection.Transport).IsInputPaused, heldAfterPause));
        await using var client = await TlsClient.ConnectAsync(server.EndPoint);
        var sending = Task.Run(async () =>
        {
            var chunk = new byte[64 * 1024];
            for (var i = 0; i < 512; i++)
            {
                await client.Ssl.WriteAsync(chunk, TestContext.Current.CancellationToken);
            }
        }, TestContext.Current.CancellationToken);

        var held = await heldAfterPause.Task.WithTestTimeout();

        // One read may take the input past the limit, by at most a block; examined plaintext counts as held.
        Assert.InRange(held, ReceiveBuffer, ReceiveBuffer + 4096);
        client.Tcp.Reset();
        await Assert.ThrowsAnyAsync<Exception>(() => sending);
    }
}
