using System.Net.Sockets;
using System.Text;
using Sockeye.Framing;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Robustness;

/// <summary>Members of a relay that reset while the relay pushes to them: each ends, and nothing else does.</summary>
public class RelayResetTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact(Timeout = Timeouts.Load)]
    public async Task Members_that_reset_while_a_flood_is_pushed_to_them_leave_the_relay_serving_and_stoppable()
    {
        // Was (a red-team review, 6 of 6 runs): a push to a member that had reset failed inside the drainer's send, which
        // completed the member's input there and then; the handler ended on that same thread and waited, to complete its
        // output, for the drainer further down the stack: an event loop stuck for ever, every connection on it silent,
        // and the stop never ending.
        var room = new ConnectionGroup();
        var lines = new LineFramer();
        await using var server = await TestServer.StartAsync(
            async connection =>
            {
                room.Add(connection);
                await foreach (var line in connection.ReadMessagesAsync(lines))
                {
                    await room.BroadcastMessageAsync(lines, line, except: connection);
                }
            },
            options =>
            {
                options.InlineScheduling = true;                      // as sockeye serve runs its relay
                options.ShutdownTimeout = TimeSpan.FromSeconds(3);
            });

        using var flooder = await server.ConnectAsync();
        using var stopFlooding = CancellationTokenSource.CreateLinkedTokenSource(Token);
        var line = Encoding.ASCII.GetBytes(new string('p', 2000) + "\n");
        var flooding = Task.Run(async () =>
        {
            try
            {
                while (!stopFlooding.IsCancellationRequested)
                {
                    await flooder.Socket.SendAsync(line, SocketFlags.None, stopFlooding.Token);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException)
            {
                // Stopped, or cut off: neither is what this test is about.
            }
        }, Token);

        // Members that join, read nothing, and leave with a reset while the flood is pushed to them.
        for (var i = 0; i < 400; i++)
        {
            using var member = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
            await member.ConnectAsync(server.EndPoint, Token);
            await Task.Delay(5, Token);                                 // the relay's pushes to it under way
            member.LingerState = new LingerOption(true, 0);
        }

        await stopFlooding.CancelAsync();
        await flooding;

        // Fresh members all hear one of them: no event loop is stuck.
        var fresh = new List<TestClient>();
        for (var i = 0; i < 20; i++)
        {
            fresh.Add(await server.ConnectAsync());
        }

        // The flooder and the 20 fresh members in the room, every reset one gone, then one speaks.
        await Sockeye.Tests.Messaging.PushTests.WaitUntilAsync(() => room.Count == 21 && server.Server.Connections.Count() == 21);
        await fresh[0].SendAsync("health-check\n");
        foreach (var listener in fresh.Skip(1))
        {
            Assert.True(await HearsAsync(listener, "health-check\n").WaitAsync(TimeSpan.FromSeconds(20), Token));
        }

        // And the stop ends within its drain timeout.
        await server.Server.StopAsync(Token).WaitAsync(TimeSpan.FromSeconds(30), Token);
        foreach (var client in fresh)
        {
            client.Dispose();
        }
    }

    /// <summary>
    /// Reads until <paramref name="line"/> has arrived: the flooder's relay may still be passing on the tail of the flood,
    /// before and after it. True if it came, false if the connection ended first.
    /// </summary>
    private static async Task<bool> HearsAsync(TestClient client, string line)
    {
        var buffer = new byte[64 * 1024];
        var carry = string.Empty;
        while (true)
        {
            var read = await client.Socket.ReceiveAsync(buffer, SocketFlags.None, Token);
            if (read == 0)
            {
                return false;
            }

            var text = carry + Encoding.ASCII.GetString(buffer, 0, read);
            if (text.Contains(line, StringComparison.Ordinal))
            {
                return true;
            }

            carry = text[Math.Max(0, text.Length - line.Length)..];
        }
    }
}
