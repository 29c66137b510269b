using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;

namespace Sockeye.Soak;

/// <summary>The client side's plumbing: connections, TLS, reading to the end.</summary>
internal static class Net
{
    /// <summary>The thumbprint of the soak server's certificate, from its ready line.</summary>
    public static string? PinnedThumbprint { get; set; }

    public static async Task<Socket> ConnectAsync(int port, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public static async Task<SslStream> ConnectTlsAsync(int port, CancellationToken cancellationToken, Action<int>? localPort = null)
    {
        var socket = await ConnectAsync(port, cancellationToken);
        localPort?.Invoke(((IPEndPoint)socket.LocalEndPoint!).Port);
        var tls = new SslStream(new NetworkStream(socket, ownsSocket: true));
        try
        {
            await tls.AuthenticateAsClientAsync(
                new SslClientAuthenticationOptions
                {
                    TargetHost = "localhost",
                    EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                    // The soak server's self-signed certificate, pinned by the thumbprint it printed.
                    RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate?.GetCertHashString() == PinnedThumbprint,
                },
                cancellationToken);
            return tls;
        }
        catch
        {
            await tls.DisposeAsync();
            throw;
        }
    }

    /// <summary>Closes with a reset: SO_LINGER 0, as a client that crashes or is killed does.</summary>
    public static void Reset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (SocketException)
        {
            // Already reset by the server: closing is all that is left.
        }

        socket.Dispose();
    }

    /// <summary>Waits for the server to end the connection: a read that returns nothing or fails.</summary>
    /// <returns>How long it took, or null when <paramref name="within"/> passed first.</returns>
    public static async Task<TimeSpan?> WaitForEndAsync(Stream stream, TimeSpan within, CancellationToken cancellationToken)
    {
        var started = TimeProvider.System.GetTimestamp();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(within);
        var buffer = new byte[16 * 1024];
        try
        {
            while (await stream.ReadAsync(buffer, deadline.Token) > 0)
            {
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
        catch (IOException)
        {
        }

        return TimeProvider.System.GetElapsedTime(started);
    }

    /// <summary>Reads exactly <paramref name="buffer"/>'s length, or fails.</summary>
    public static async Task ReadExactlyAsync(Stream stream, Memory<byte> buffer, CancellationToken cancellationToken) =>
        await stream.ReadExactlyAsync(buffer, cancellationToken);

    public static bool IsConnectionError(Exception error) =>
        error is IOException or SocketException or AuthenticationException or ObjectDisposedException;
}
