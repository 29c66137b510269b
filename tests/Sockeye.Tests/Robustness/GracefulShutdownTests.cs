using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Robustness;

[Collection(LoadGroup.Name)]
public class GracefulShutdownTests
{
    [Fact(Timeout = Timeouts.Load)]
    public async Task Sigterm_lets_100_transfers_in_flight_finish_refuses_new_connections_and_exits_zero()
    {
        const int Transfers = 100;
        const int Size = 1024 * 1024;
        const int FirstPart = 64 * 1024;
        var (server, port) = await CliProcess.StartServerAsync("--handler", "echo");
        await using var _ = server;
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        var inFlight = 0;
        var allInFlight = new TaskCompletionSource();
        var proceed = new TaskCompletionSource();

        var transfers = Enumerable.Range(0, Transfers).Select(_ => Task.Run(async () =>
        {
            var data = RandomNumberGenerator.GetBytes(Size);
            using var client = await TestClient.ConnectAsync(endPoint);

            // In flight: part sent and echoed, the rest still to come.
            await client.SendAsync(data.AsMemory(0, FirstPart));
            var echoed = await client.ReceiveExactlyAsync(FirstPart);
            if (Interlocked.Increment(ref inFlight) == Transfers)
            {
                allInFlight.SetResult();
            }

            await proceed.Task;
            var receiving = client.ReceiveToEndAsync();
            await client.SendAsync(data.AsMemory(FirstPart));
            client.HalfClose();
            byte[] whole = [.. echoed, .. await receiving];
            return SHA256.HashData(whole).AsSpan().SequenceEqual(SHA256.HashData(data));
        }));
        var running = transfers.ToList();

        await allInFlight.Task.WithTestTimeout();
        server.Signal(PosixSignal.SIGTERM);
        await server.WaitForStandardErrorAsync("^Stopping: no longer accepting");

        var refused = await Assert.ThrowsAsync<SocketException>(() => TestClient.ConnectAsync(endPoint));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        proceed.SetResult();
        var intact = await Task.WhenAll(running);

        Assert.Equal(Transfers, intact.Count(ok => ok));
        Assert.Equal(0, await server.WaitForExitAsync());
        Assert.DoesNotContain(server.StandardError, line => line.StartsWith("warning", StringComparison.Ordinal) || line.StartsWith("error", StringComparison.Ordinal));
    }

    [Fact(Timeout = Timeouts.Load)]
    public async Task A_second_signal_aborts_at_once_and_still_exits_zero()
    {
        var (server, port) = await CliProcess.StartServerAsync("--handler", "echo", "--drain-timeout", "600");
        await using var _ = server;
        using var idle = await TestClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        await idle.SendAsync("x");
        await idle.ReceiveExactlyAsync(1);

        server.Signal(PosixSignal.SIGTERM);
        await server.WaitForStandardErrorAsync("^Stopping: no longer accepting");
        server.Signal(PosixSignal.SIGINT);

        Assert.Equal(0, await server.WaitForExitAsync());
        Assert.Contains(server.StandardError, line => line.Contains("did not finish in time and were aborted", StringComparison.Ordinal));
    }
}
