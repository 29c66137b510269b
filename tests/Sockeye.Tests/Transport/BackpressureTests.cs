using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Transport;

public class BackpressureTests
{
    [Fact(Timeout = Timeouts.Network)]
    public async Task A_handler_that_falls_behind_pauses_reading_and_memory_stays_bounded()
    {
        const int ReceiveBuffer = 64 * 1024;
        var full = new TaskCompletionSource();
        long held = 0;
        var segments = 0;
        await using var server = await TestServer.StartAsync(
            async connection =>
            {
                // Look at everything, consume nothing: the handler has fallen behind.
                var input = connection.Transport.Input;
                var result = await input.ReadAsync();
                while (result.Buffer.Length < ReceiveBuffer)
                {
                    input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
                    result = await input.ReadAsync();
                }

                held = result.Buffer.Length;
                foreach (var _ in result.Buffer)
                {
                    segments++;
                }

                full.SetResult();
                await connection.CloseRequested.WhenCanceled();
            },
            o =>
            {
                o.MaxMessageSize = 16 * 1024;
                o.MaxReceiveBufferSize = ReceiveBuffer;
            });
        using var client = await server.ConnectAsync();

        // Far more than the receive buffer; the sends stall in the client's kernel once the server stops reading.
        var sending = client.SendAsync(new byte[32 * 1024 * 1024]);
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
}
