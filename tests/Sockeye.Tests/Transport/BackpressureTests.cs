using System.IO.Pipelines;
using System.Text;
using Sockeye.Framing;
using Sockeye.Tests.Infrastructure;
using Sockeye.Transport;

namespace Sockeye.Tests.Transport;

public class BackpressureTests
{
    private const int ReceiveBuffer = 64 * 1024;

    /// <summary>A server whose handler holds what it reads; the client sends 32 MiB, far more than the receive buffer.</summary>
    private static Task<TestServer> StartAsync(Func<Connection, Task> handler) =>
        TestServer.StartAsync(handler, o =>
        {
            o.MaxMessageSize = 16 * 1024;
            o.MaxReceiveBufferSize = ReceiveBuffer;
        });

    /// <summary>
    /// A handler that examines what arrives and consumes none of it, as a reader waiting for the rest of a message does;
    /// once <paramref name="isPaused"/> says the server stopped receiving (or the input is well past the limit), it
    /// reports what it holds.
    /// </summary>
    internal static async Task HoldAndMeasureAsync(Connection connection, Func<bool> isPaused, TaskCompletionSource<long> heldAfterPause)
    {
        var input = connection.Transport.Input;
        var result = await input.ReadAsync();
        while (result.Buffer.Length < ReceiveBuffer / 2)
        {
            input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
            result = await input.ReadAsync();
        }

        input.AdvanceTo(result.Buffer.Start, result.Buffer.End);

        // The client keeps sending: wait until the server stops receiving, looking at (and consuming none of) what
        // arrives meanwhile, then see what the input holds. Past the limit by more than a receive, it never will stop.
        var held = result.Buffer.Length;
        while (true)
        {
            var paused = isPaused();
            if (input.TryRead(out result))
            {
                held = result.Buffer.Length;
                input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
            }

            if (paused || held > ReceiveBuffer + PinnedBlockMemoryPool.BlockSize)
            {
                break;
            }

            await Task.Delay(1);
        }

        heldAfterPause.SetResult(held);
        await connection.CloseRequested.WhenCanceled();
    }

    /// <summary>
    /// Reads without consuming, looking at everything (a handler that has fallen behind), until the input holds at least
    /// <paramref name="bytes"/>; returns that read, not yet advanced.
    /// </summary>
    internal static async Task<ReadResult> FallBehindAsync(PipeReader input, long bytes)
    {
        var result = await input.ReadAsync();
        while (result.Buffer.Length < bytes)
        {
            input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
            result = await input.ReadAsync();
        }

        return result;
    }

    /// <summary>
    /// A handler that falls behind until its input is full and paused, then reads lines and answers each with its length.
    /// </summary>
    internal static async Task FallBehindThenAnswerLineLengthsAsync(Connection connection)
    {
        var input = connection.Transport.Input;
        var result = await FallBehindAsync(input, ReceiveBuffer);
        input.AdvanceTo(result.Buffer.Start);
        await foreach (var line in connection.ReadMessagesAsync(new LineFramer()))
        {
            await connection.Transport.Output.WriteAsync(Encoding.ASCII.GetBytes($"{line.Length}\n"));
        }
    }

    private static Task SendFarTooMuchAsync(TestClient client) => client.SendAsync(new byte[32 * 1024 * 1024]);

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_message_that_fills_the_input_after_a_smaller_one_still_arrives_whole()
    {
        // Within the limits (a 60 KiB maximum message, a 64 KiB receive buffer): a 20 KiB line, then a 50 KiB one. The
        // handler falls behind until the input is full and paused, holding the first line and 44 KiB of the second. Once
        // it has consumed the first, the 44 KiB left are more than half the buffer, and the reader waits for the rest of
        // that line: the input must receive again rather than wait to be emptied below half.
        var first = new string('a', 20 * 1024);
        var second = new string('b', 50 * 1024);
        await using var server = await TestServer.StartAsync(
            FallBehindThenAnswerLineLengthsAsync,
            o =>
            {
                o.MaxMessageSize = 60 * 1024;
                o.MaxReceiveBufferSize = ReceiveBuffer;
            });
        using var client = await server.ConnectAsync();

        await client.SendAsync(first + "\n" + second + "\n");
        client.HalfClose();

        Assert.Equal($"{first.Length}\n{second.Length}\n", await client.ReceiveTextToEndAsync().WithTestTimeout());
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_handler_that_falls_behind_pauses_reading_and_memory_stays_bounded()
    {
        var full = new TaskCompletionSource();
        long held = 0;
        var segments = 0;
        await using var server = await StartAsync(
            async connection =>
            {
                // Look at everything, consume nothing: the handler has fallen behind.
                var input = connection.Transport.Input;
                var result = await FallBehindAsync(input, ReceiveBuffer);
                held = result.Buffer.Length;
                foreach (var _ in result.Buffer)
                {
                    segments++;
                }

                full.SetResult();
                await connection.CloseRequested.WhenCanceled();
            });
        using var client = await server.ConnectAsync();

        // Far more than the receive buffer; the sends stall in the client's kernel once the server stops reading.
        var sending = SendFarTooMuchAsync(client);
        await full.Task.WithTestTimeout();
        var pool = server.Server.Context.MemoryPool;

        Assert.False(sending.IsCompleted);
        var rented = pool.RentedBlocks;
        Assert.True(
            rented >= ReceiveBuffer / 4096 && rented <= (ReceiveBuffer / 4096) + 4,
            $"{rented} blocks rented; the handler's last read held {held} bytes in {segments} segments.");
        client.Reset();
        await Assert.ThrowsAnyAsync<Exception>(() => sending);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Bytes_the_handler_examined_but_did_not_consume_count_against_the_receive_buffer()
    {
        var heldAfterPause = new TaskCompletionSource<long>();
        await using var server = await StartAsync(connection =>
            HoldAndMeasureAsync(connection, () => ((TransportConnection)connection).IsReceivePaused, heldAfterPause));
        using var client = await server.ConnectAsync();
        var sending = SendFarTooMuchAsync(client);

        var held = await heldAfterPause.Task.WithTestTimeout();

        // One receive may take the input past the limit, by at most a block; examined bytes count as held ones.
        Assert.InRange(held, ReceiveBuffer, ReceiveBuffer + PinnedBlockMemoryPool.BlockSize);
        client.Reset();
        await Assert.ThrowsAnyAsync<Exception>(() => sending);
    }
}
