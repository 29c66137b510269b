using System.Globalization;
using Sockeye.Soak;

// eng/soak runs this: `Sockeye.Soak [--rounds N] [--round-seconds S] [--warmup-rounds N] [--clients N] [--minutes M] [--max-threads N] [--verbose]`
// drives rounds of load at a server it starts as `Sockeye.Soak server`.
if (args is ["server"])
{
    return await SoakServer.RunAsync();
}

int Option(string name, int fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
}

var minutes = Option("--minutes", 0);
var settings = new SoakSettings(
    Rounds: Option("--rounds", 3),
    WarmupRounds: Option("--warmup-rounds", 1),
    RoundSeconds: Option("--round-seconds", 8),
    Clients: Option("--clients", 4),
    Duration: minutes > 0 ? TimeSpan.FromMinutes(minutes) : null,
    MaxThreads: Option("--max-threads", 120),
    Verbose: args.Contains("--verbose"));
return await new SoakDriver(settings).RunAsync();
