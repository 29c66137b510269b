using System.Buffers.Binary;
using System.Net.Sockets;

namespace Sockeye.Soak;

/// <summary>
/// Well-behaved clients on the server at the default limits, while the process is busy with the hostile load: they
/// send whole messages at once, read every reply, pause a little between messages, and close when the round ends.
/// Any end they did not cause is a false end (issue 17, item 4).
/// </summary>
internal sealed class HealthyClients(Ports ports, Tally tally, int seed)
{
    public async Task RunAsync(CancellationToken round)
    {
        var random = new Random(seed);
        Socket socket;
        try
        {
            socket = await Net.ConnectAsync(ports.Healthy, CancellationToken.None);
        }
        catch (SocketException error)
        {
            tally.Fail($"healthy: could not connect: {error.Message}");
            return;
        }

        using (socket)
        using (var stream = new NetworkStream(socket, ownsSocket: false))
        {
            try
            {
                while (!round.IsCancellationRequested)
                {
                    // Mostly small messages, now and then one of almost the default maximum (1 MiB).
                    var size = random.Next(10) == 0 ? random.Next(256 * 1024, 1000 * 1024) : random.Next(1, 4096);
                    var message = new byte[4 + size];
                    BinaryPrimitives.WriteInt32BigEndian(message, size);
                    random.NextBytes(message.AsSpan(4));
                    await stream.WriteAsync(message, CancellationToken.None);

                    var reply = new byte[message.Length];
                    await stream.ReadExactlyAsync(reply, CancellationToken.None);
                    if (!reply.AsSpan().SequenceEqual(message))
                    {
                        tally.Fail($"healthy: a reply of {size} bytes differs from the message");
                        return;
                    }

                    tally.Add("healthy.messages");
                    await Task.Delay(random.Next(0, 100), round).ContinueWith(_ => { }, TaskScheduler.Default);
                }

                // The client ends it: its side first, then the server's end of stream.
                socket.Shutdown(SocketShutdown.Send);
                if (await stream.ReadAsync(new byte[1], CancellationToken.None) != 0)
                {
                    tally.Fail("healthy: bytes after the last reply");
                }

                tally.Add("healthy.closed-by-client");
            }
            catch (Exception error) when (Net.IsConnectionError(error) || error is EndOfStreamException)
            {
                tally.Add("healthy.false-ends");
                tally.Fail($"healthy: ended by the server: {error.GetType().Name}: {error.Message}");
            }
        }
    }
}
