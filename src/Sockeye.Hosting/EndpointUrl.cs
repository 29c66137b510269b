using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Sockeye.Hosting;

/// <summary>
/// An endpoint written as a URL, as Kestrel's are: <c>tcp://127.0.0.1:5000</c>, <c>tcp://[::1]:5000</c>,
/// <c>tcp://localhost:5000</c> (127.0.0.1 and ::1), <c>tcp://*:5000</c> (every address), or
/// <c>unix:/run/app.sock</c>.
/// </summary>
internal static class EndpointUrl
{
    public const string Forms = "tcp://ADDRESS:PORT (such as tcp://127.0.0.1:5000, tcp://[::]:5000, tcp://localhost:5000 or tcp://*:5000) or unix:PATH";

    private const string TcpScheme = "tcp://";
    private const string UnixScheme = "unix:";

    /// <summary>Adds a listener for <paramref name="url"/> to <paramref name="options"/>, or returns why it cannot.</summary>
    public static string? TryListen(SocketServerOptions options, string? url, out ListenerOptions? listener)
    {
        listener = null;
        url = url?.Trim();
        if (string.IsNullOrEmpty(url))
        {
            return $"an endpoint needs a Url: {Forms}";
        }

        if (url.StartsWith(UnixScheme, StringComparison.OrdinalIgnoreCase))
        {
            var path = url[UnixScheme.Length..];
            if (path.Length == 0)
            {
                return $"'{url}' has no socket path: write unix:/path/to/socket";
            }

            // A NUL would cut the path short, or at its start name an abstract socket that prints back as another
            // path (fuzz/corpus/config-url/finding-nul-in-path).
            if (path.AsSpan().ContainsAnyInRange('\0', '\x1f'))
            {
                return $"'{url.ReplaceLineEndings(" ")}' has a control character in its socket path";
            }

            UnixDomainSocketEndPoint endPoint;
            try
            {
                endPoint = new UnixDomainSocketEndPoint(path);
            }
            catch (ArgumentOutOfRangeException)
            {
                // Longer than the kernel's sockaddr_un holds (fuzz/corpus/config-url/finding-long-path).
                return $"'{url}' has a socket path too long for this system: keep it under 108 bytes";
            }

            listener = options.Listen(endPoint);
            return null;
        }

        if (!url.StartsWith(TcpScheme, StringComparison.OrdinalIgnoreCase))
        {
            return $"'{url}' is not an endpoint URL: {Forms}";
        }

        var hostAndPort = url.AsSpan(TcpScheme.Length).TrimEnd('/');
        var colon = hostAndPort.LastIndexOf(':');
        if (colon < 0 || !int.TryParse(hostAndPort[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > IPEndPoint.MaxPort)
        {
            return $"'{url}' needs a port from 0 to 65535: {Forms}";
        }

        var host = hostAndPort[..colon];
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            listener = options.ListenLocalhost(port);
        }
        else if (host is "*" or "+")
        {
            // IPv6's any address also takes IPv4 (the listener turns on dual mode); without IPv6, IPv4's.
            listener = options.Listen(Socket.OSSupportsIPv6 ? IPAddress.IPv6Any : IPAddress.Any, port);
        }
        else if (!host.IsEmpty && IPAddress.TryParse(host.Trim("[]"), out var address)
            && (host[0] == '[') == (address.AddressFamily == AddressFamily.InterNetworkV6))
        {
            listener = options.Listen(address, port);
        }
        else
        {
            return $"'{url}' has no IP address (IPv6 goes in brackets), localhost or *: {Forms}";
        }

        return null;
    }

    /// <summary>The URL of a listener, as <see cref="TryListen"/> reads it.</summary>
    public static string Format(ListenerOptions listener) =>
        (listener.EndPoint is UnixDomainSocketEndPoint ? UnixScheme : TcpScheme) + listener;
}
