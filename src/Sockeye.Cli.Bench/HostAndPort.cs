using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Sockeye.Cli.Bench;

/// <summary>A host and port as a person reads them: an IPv6 address in brackets (<c>[::1]:11000</c>), as in a URL.</summary>
internal static class HostAndPort
{
    public static string Format(string host, int port)
    {
        var shown = IPAddress.TryParse(host, out var address) && address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{host}]" : host;
        return shown + ":" + port.ToString(CultureInfo.InvariantCulture);
    }
}
