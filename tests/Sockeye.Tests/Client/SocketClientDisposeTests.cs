using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Client;

/// <summary>Disposing a client whose connection failed: no exception, and no descriptor left open.</summary>
public class SocketClientDisposeTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact(Timeout = Timeouts.Network)]
    public async Task Dispose_after_a_failed_send_does_not_throw_and_closes_the_socket()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Looks the descriptor up in /proc/self/fd.");
        var reset = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(async connection =>
        {
            await reset.Task;
            connection.Abort();
            aborted.SetResult();
        });
        var client = await SocketClient.ConnectAsync(server.EndPoint, cancellationToken: Token);

        // The descriptor, and what it is: after the close its number may be reused by another test's socket, but
        // never for this socket (a socket's inode is unique while it lives).
        var descriptor = $"/proc/self/fd/{client.Socket.SafeHandle.DangerousGetHandle()}";
        var socket = new FileInfo(descriptor).LinkTarget;
        Assert.StartsWith("socket:[", socket, StringComparison.Ordinal);

        // The server resets the connection; the client finds out from a send, which fails with bytes left unsent.
        reset.SetResult();
        await aborted.Task.WithTestTimeout();
        await Assert.ThrowsAsync<IOException>(async () =>
        {
            for (var i = 0; i < 10_000; i++)
            {
                await client.SendAsync(new byte[64 * 1024], Token);
            }
        });

        await client.DisposeAsync();

        Assert.NotEqual(socket, LinkTarget(descriptor));
        Assert.True(client.Socket.SafeHandle.IsClosed);
        await client.DisposeAsync();
    }

    private static string? LinkTarget(string descriptor)
    {
        try
        {
            return new FileInfo(descriptor).LinkTarget;
        }
        catch (IOException)
        {
            // The descriptor is gone.
            return null;
        }
    }
}
