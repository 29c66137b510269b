using System.CommandLine;
using System.Net;
using Sockeye.Handlers;

namespace Sockeye.Cli;

/// <summary>
/// <c>serve</c>'s flags for leaving a load balancer's rotation before stopping: <c>--drain-delay</c>, and
/// <c>--agent-port</c>, where HAProxy's agent check hears "ready" or "drain".
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

    /// <summary>Adds the flags to <paramref name="command"/> and returns them, to apply once it is parsed.</summary>
    public static DrainFlags AddTo(Command command)
    {
        var flags = new DrainFlags();
        command.Options.Add(flags._drainDelay);
        command.Options.Add(flags._agentPort);
        return flags;
    }

    /// <summary>
    /// Sets the drain delay, and adds the agent's listeners. Call it after every other listener flag: the agent's
    /// listeners take none of them.
    /// </summary>
    public void Apply(ParseResult parse, SocketServerOptions options)
    {
        options.DrainDelay = TimeSpan.FromSeconds(parse.GetValue(_drainDelay));
        if (parse.GetValue(_agentPort) is not { } port)
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
