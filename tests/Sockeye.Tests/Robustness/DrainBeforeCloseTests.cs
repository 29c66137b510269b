using System.Buffers;
using System.Net.Sockets;
using System.Security.Cryptography;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Robustness;

/// <summary>
/// Drain before close: what a handler wrote is all sent before the server closes the socket, even when the handler
/// returns long before the client has read it (issue 17, item 5: the drain-before-close mutant, on both transports,
/// failed no guard until this one).
/// </summary>
public class DrainBeforeCloseTests
{
    [Fact(Timeout = Timeouts.Network)]
    public async Task A_reply_far_larger_than_the_sockets_buffers_arrives_whole_after_the_handler_has_returned()
    {
        // More than the kernel's buffers on both sides can hold (a few MiB on loopback), so that when the handler
        // returns most of the reply is still in the server's pipe, waiting for the client to read.
        var reply = RandomNumberGenerator.GetBytes(32 * 1024 * 1024);
        var returned = new TaskCompletionSource<Connection>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(async connection =>
        {
            // The request, to the client's end; then the reply, written and not awaited: ending the handler sends it.
            while (true)
            {
                var read = await connection.Transport.Input.ReadAsync();
                connection.Transport.Input.AdvanceTo(read.Buffer.End);
                if (read.IsCompleted)
                {
                    break;
                }
            }

            connection.Transport.Output.Write(reply.AsSpan());
            returned.SetResult(connection);
        });
        using var client = await server.ConnectAsync();
        await client.SendAsync("request");
        client.HalfClose();
        var connection = await Guard.ExpectAsync(returned.Task, "the handler did not run");

        var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        string? error = null;
        try
        {
            int read;
            while ((read = await client.Socket.ReceiveAsync(buffer, SocketFlags.None, TestContext.Current.CancellationToken)) > 0)
            {
                received.Write(buffer, 0, read);
            }
        }
        catch (SocketException ex)
        {
            error = $" and then {ex.SocketErrorCode}";
        }

        Assert.True(
            received.Length == reply.Length,
            $"Drain before close: the client got {received.Length:N0} of the {reply.Length:N0} bytes the handler wrote{error}: the server closed before it had sent them all.");
        Assert.Equal(reply, received.ToArray());
        await Guard.ExpectAsync(connection.ConnectionClosed.WhenCanceled(), "the connection did not end after its reply");
        Assert.Equal(ConnectionEndReason.ClientClosed, connection.EndReason);
    }
}
