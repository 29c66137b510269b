using System.CommandLine;
using System.Net;
using Sockeye.Handlers;

namespace Sockeye.Cli;

/// <summary>
/// <c>serve</c>'s flags for leaving a load balancer's rotation before stopping: <c>--drain-delay</c>
/// (<c>Sockeye:DrainDelay</c>), and <c>--agent-port</c> (<c>Sockeye:Serve:AgentPort</c>), where HAProxy's agent check
/// hears "ready" or "drain".
/// </summary>
internal sealed class DrainFlags
{
    private readonly Option<double> _drainDelay = CommonOptions.Seconds(
        "--drain-delay", "On SIGTERM or Ctrl+C, first go on accepting and serving for this long while reporting that the server " +
        "is draining (on --agent-port), so load balancers send new clients elsewhere; then stop as --drain-timeout says.",
        0, ZeroSeconds.Immediately);

    private readonly Option<int?> _agentPort = new("--agent-port")
    {
        Description = "Answer HAProxy's agent check (agent-check agent-port N) on this port of the --host addresses: 'ready', " +
            "then 'drain' from the moment the server begins to stop. No PROXY protocol or TLS on it.",
        HelpName = "N",
        CustomParser = result => CommonOptions.ParsePort(result, "--agent-port"),
    };

    /// <summary>The flags, each with the configuration key it sets.</summary>
    public IEnumerable<IConfigBinding> Bindings =>
    [
        ServeSettings.Server(_drainDelay, nameof(SocketServerOptions.DrainDelay), (o, value) => o.DrainDelay = TimeSpan.FromSeconds(value)),
        ServeSettings.Tool(_agentPort, "AgentPort"),
    ];

    /// <summary>
    /// What adds the agent's listeners, from the settings of every source. Run it after every other listener exists:
    /// the agent listens on their addresses, and takes none of their settings.
    /// </summary>
    public Action<SocketServerOptions> Prepare(ParseResult settings)
    {
        var port = settings.GetValue(_agentPort);
        return options => AddAgent(options, port);
    }

    private static void AddAgent(SocketServerOptions options, int? agentPort)
    {
        if (agentPort is not { } port)
        {
            return;
        }

        // The addresses of the server's own TCP listeners, as --host made them (localhost's is 127.0.0.1, where
        // HAProxy's agent check connects); localhost when there are none (--unix alone).
        var addresses = options.Listeners.Select(listener => listener.EndPoint).OfType<IPEndPoint>().Select(endPoint => endPoint.Address).Distinct().ToList();
        var agent = new AgentCheckHandler();
        if (addresses.Count == 0)
        {
            options.ListenLocalhost(port).Handler = agent;
        }

        foreach (var address in addresses)
        {
            options.Listen(address, port).Handler = agent;
        }
    }
}
