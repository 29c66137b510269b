using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Sockeye.Tests.Infrastructure;

/// <summary>A TCP client that speaks in lines, as a person at <c>nc</c> would; every wait is bounded by the test's token.</summary>
internal sealed class LineClient : IDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly StreamReader _reader;

    private LineClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = new StreamReader(_stream, new UTF8Encoding(false));
    }

    public Socket Socket => _socket;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public static async Task<LineClient> ConnectAsync(EndPoint endPoint)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endPoint, Token);
            return new LineClient(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public static Task<LineClient> ConnectAsync(int port) => ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));

    /// <summary>Sends <paramref name="text"/> with a <c>\n</c> after it.</summary>
    public Task SendLineAsync(string text) => SendAsync(text + "\n");

    public async Task SendAsync(string text) => await _stream.WriteAsync(Encoding.UTF8.GetBytes(text), Token);

    /// <summary>The next line, without its ending; null once the server has closed.</summary>
    public async Task<string?> ReadLineAsync() => await _reader.ReadLineAsync(Token);

    /// <summary>The next line, which must come.</summary>
    public async Task<string> ExpectLineAsync() =>
        await ReadLineAsync() ?? throw new EndOfStreamException("The server closed the connection before the line came.");

    /// <summary>Ends the client's sending side (FIN); it can still read.</summary>
    public void HalfClose() => _socket.Shutdown(SocketShutdown.Send);

    public void Dispose()
    {
        _reader.Dispose();
        _stream.Dispose();
    }
}
