using System.Globalization;
using System.Net;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Client;

/// <summary>Disposing a client whose connection failed: no exception, and no descriptor left open.</summary>
public class SocketClientDisposeTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact(Timeout = Timeouts.Network)]
    public async Task Dispose_after_a_failed_send_does_not_throw_and_closes_the_socket()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Looks the socket up in /proc.");
        var reset = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(async connection =>
        {
            await reset.Task;
            connection.Abort();
        });
        var client = await SocketClient.ConnectAsync(server.EndPoint, cancellationToken: Token);
        var socket = SocketInode((IPEndPoint)client.LocalEndPoint!);
        Assert.Equal(1, DescriptorsFor(socket));

        // The server resets the connection; the client finds out from a send, which fails with bytes left unsent.
        reset.SetResult();
        var failed = await Assert.ThrowsAsync<IOException>(async () =>
        {
            for (var i = 0; i < 10_000; i++)
            {
                await client.SendAsync(new byte[64 * 1024], Token);
            }
        });
        Assert.NotNull(failed);

        await client.DisposeAsync();

        // Counted by what each descriptor is, not by how many the process has: other tests open and close theirs meanwhile.
        Assert.Equal(0, DescriptorsFor(socket));
        await client.DisposeAsync();
    }

    /// <summary>The inode of the TCP socket bound to <paramref name="local"/>, from /proc/net/tcp or tcp6.</summary>
    private static string SocketInode(IPEndPoint local)
    {
        var port = local.Port.ToString("X4", CultureInfo.InvariantCulture);
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields[1].EndsWith(":" + port, StringComparison.Ordinal))
                {
                    return fields[9];
                }
            }
        }

        throw new InvalidOperationException($"No socket bound to {local} in /proc/net/tcp.");
    }

    /// <summary>How many of the process's descriptors (/proc/self/fd) are the socket <paramref name="inode"/>.</summary>
    private static int DescriptorsFor(string inode)
    {
        var target = $"socket:[{inode}]";
        var count = 0;
        foreach (var descriptor in Directory.GetFiles("/proc/self/fd"))
        {
            try
            {
                count += new FileInfo(descriptor).LinkTarget == target ? 1 : 0;
            }
            catch (IOException)
            {
                // Closed while listed.
            }
        }

        return count;
    }
}
