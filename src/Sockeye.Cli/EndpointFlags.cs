using System.CommandLine;
using System.Globalization;
using System.Net;
using Sockeye.Hosting;

namespace Sockeye.Cli;

/// <summary>
/// <c>--host</c>, <c>--port</c> and <c>--unix</c>: where <c>serve</c> listens. Any of them given on the command line
/// replaces the endpoints configured under <c>Sockeye:Endpoints</c>; with no endpoint anywhere, serve listens on
/// localhost port 11000.
/// </summary>
internal sealed class EndpointFlags : IConfigBinding
{
    /// <summary>The endpoint when neither the command line nor the configuration names one.</summary>
    public static readonly string DefaultUrl = Url("localhost", CommonOptions.DefaultPort);

    private readonly Option<string[]> _hosts = new Option<string[]>("--host")
    {
        Description = "An address to listen on; repeat for more. The default, localhost, is 127.0.0.1 and ::1. " +
            "Use 0.0.0.0 or :: to accept connections from other machines.",
        HelpName = "ADDR",
    }.NotBlank("an address");

    private readonly Option<int> _port = CommonOptions.Port("The port to listen on; 0 picks a free one, shown in the 'Listening on' line.");

    private readonly Option<string[]> _unix = new Option<string[]>("--unix")
    {
        Description = "Also listen on a Unix domain socket at PATH; repeat for more. Without --host, listen only on the socket(s). " +
            "The file is removed when the server stops.",
        HelpName = "PATH",
    }.NotBlank("a socket file path");

    public string Key => $"{SockeyeConfiguration.SectionName}:Endpoints";

    public IEnumerable<Option> Options => [_hosts, _port, _unix];

    public void AddIfGiven(ParseResult parse, IDictionary<string, string?> flags)
    {
        if (!Options.Any(option => parse.GetResult(option) is { Implicit: false }))
        {
            return;
        }

        var hosts = parse.GetValue(_hosts) ?? [];
        var sockets = parse.GetValue(_unix) ?? [];
        var port = parse.GetValue(_port);
        IEnumerable<string> urls =
        [
            .. hosts.Length == 0 && sockets.Length == 0 ? [Url("localhost", port)] : hosts.Select(host => Url(host, port)),
            .. sockets.Select(path => $"unix:{Path.GetFullPath(path)}"),
        ];
        foreach (var (url, i) in urls.Select((url, i) => (url, i)))
        {
            flags[$"{Key}:{i.ToString(CultureInfo.InvariantCulture)}:Url"] = url;
        }
    }

    /// <summary>An endpoint URL, as Sockeye.Hosting reads it, for <c>--host</c> and <c>--port</c>.</summary>
    /// <exception cref="CliException"><paramref name="host"/> is not an IP address or localhost.</exception>
    private static string Url(string host, int port)
    {
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            return $"tcp://localhost:{port.ToString(CultureInfo.InvariantCulture)}";
        }

        if (IPAddress.TryParse(host.AsSpan().Trim("[]"), out var address))
        {
            return $"tcp://{new IPEndPoint(address, port)}";
        }

        throw new CliException(
            $"--host '{host}' is not an IP address or localhost; use 0.0.0.0 or :: to listen on every address.",
            ExitCodes.Usage);
    }
}
