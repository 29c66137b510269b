using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Sockeye.Tests.Infrastructure;

/// <summary>A raw TCP client for tests; every wait is bounded by the test's cancellation token.</summary>
internal sealed class TestClient : IDisposable
{
    private TestClient(Socket socket) => Socket = socket;

    public Socket Socket { get; }

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public static async Task<TestClient> ConnectAsync(EndPoint endPoint)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endPoint, Token);
            return new TestClient(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>A one-shot exchange: connects, sends <paramref name="message"/> (if any), and reads until the server closes.</summary>
    public static async Task<string> ExchangeAsync(EndPoint endPoint, string message = "")
    {
        using var client = await ConnectAsync(endPoint);
        await client.SendAsync(message);
        return await client.ReceiveTextToEndAsync();
    }

    public async Task SendAsync(ReadOnlyMemory<byte> data)
    {
        while (!data.IsEmpty)
        {
            var sent = await Socket.SendAsync(data, SocketFlags.None, Token);
            data = data[sent..];
        }
    }

    public Task SendAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text));

    /// <summary>Ends the client's sending side (FIN); it can still read.</summary>
    public void HalfClose() => Socket.Shutdown(SocketShutdown.Send);

    /// <summary>Reads until the server closes its side.</summary>
    public async Task<byte[]> ReceiveToEndAsync()
    {
        using var received = new MemoryStream();
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await Socket.ReceiveAsync(buffer, SocketFlags.None, Token)) > 0)
        {
            received.Write(buffer, 0, read);
        }

        return received.ToArray();
    }

    public async Task<string> ReceiveTextToEndAsync() => Encoding.UTF8.GetString(await ReceiveToEndAsync());

    /// <summary>Reads exactly <paramref name="count"/> bytes, failing if the server closes first.</summary>
    public async Task<byte[]> ReceiveExactlyAsync(int count)
    {
        var buffer = new byte[count];
        var filled = 0;
        while (filled < count)
        {
            var read = await Socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, Token);
            if (read == 0)
            {
                throw new EndOfStreamException($"The server closed after {filled} of {count} bytes.");
            }

            filled += read;
        }

        return buffer;
    }

    /// <summary>Closes with a reset instead of a FIN.</summary>
    public void Reset()
    {
        Socket.LingerState = new LingerOption(true, 0);
        Socket.Dispose();
    }

    public void Dispose() => Socket.Dispose();
}
