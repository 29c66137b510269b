using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Sockeye.Peers;

/// <summary>The workloads every peer serves, as <c>sockeye serve --handler</c> names them.</summary>
internal enum PeerHandler
{
    /// <summary>Sends every byte back until the client ends its side.</summary>
    Echo,

    /// <summary>Reads to <c>&lt;EOF&gt;</c>, reports, echoes the message, closes (the companion server).</summary>
    EofEcho,

    /// <summary>Reads until the client ends its side, reports, closes (the seed).</summary>
    Print,

    /// <summary>Every line a client sends goes to every other connected client (fan-out).</summary>
    Relay,
}

/// <summary>What a peer was asked for: <c>--port N</c>, <c>--handler NAME</c>, and its own switches.</summary>
internal sealed record PeerOptions(int Port, PeerHandler Handler, IReadOnlySet<string> Switches);

/// <summary>A started peer: where it listens, and how to stop it.</summary>
internal sealed record RunningPeer(EndPoint EndPoint, Func<Task> StopAsync);

/// <summary>
/// The shell every peer shares, so <c>bench/compare</c> treats all servers alike: the same arguments, the same
/// <c>Listening on HOST:PORT</c> line on standard error as <c>sockeye serve</c>, one-line errors, and a clean exit
/// on SIGINT or SIGTERM.
/// </summary>
internal static class PeerHost
{
    public static async Task<int> RunAsync(string name, string[] args, string[] switches, Func<PeerOptions, Task<RunningPeer>> start)
    {
        if (!TryParse(args, switches, out var options, out var error))
        {
            await Console.Error.WriteLineAsync($"error: {error} (usage: {name} [--port N] [--handler echo|eof-echo|print|relay]{string.Concat(switches.Select(s => $" [{s}]"))})");
            return 2;
        }

        RunningPeer peer;
        try
        {
            peer = await start(options);
        }
        catch (Exception ex) when (ex is SocketException or IOException)
        {
            await Console.Error.WriteLineAsync($"error: cannot listen on 127.0.0.1:{options.Port}: {ex.Message}");
            return 1;
        }

        // DotNetty reports its IPv4 listener as an IPv4-mapped IPv6 address; every peer prints 127.0.0.1:PORT.
        var endPoint = peer.EndPoint is IPEndPoint { Address.IsIPv4MappedToIPv6: true } mapped
            ? new IPEndPoint(mapped.Address.MapToIPv4(), mapped.Port)
            : peer.EndPoint;
        await Console.Error.WriteLineAsync($"Listening on {endPoint}");
        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        await stop.Task;
        await peer.StopAsync();
        return 0;

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.TrySetResult();
        }
    }

    private static bool TryParse(string[] args, string[] switches, out PeerOptions options, out string error)
    {
        var port = 11000;
        var handler = PeerHandler.Print;
        var given = new HashSet<string>(StringComparer.Ordinal);
        options = new PeerOptions(port, handler, given);
        for (var i = 0; i < args.Length; i++)
        {
            var value = i + 1 < args.Length ? args[i + 1] : null;
            switch (args[i])
            {
                case "--port" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port <= 65535:
                    i++;
                    break;
                case "--handler" when value is "echo" or "eof-echo" or "print" or "relay":
                    handler = value switch
                    {
                        "echo" => PeerHandler.Echo,
                        "eof-echo" => PeerHandler.EofEcho,
                        "relay" => PeerHandler.Relay,
                        _ => PeerHandler.Print,
                    };
                    i++;
                    break;
                case var flag when switches.Contains(flag):
                    given.Add(flag);
                    break;
                default:
                    error = $"unexpected argument '{args[i]}'{(value is null ? string.Empty : $" '{value}'")}";
                    return false;
            }
        }

        options = new PeerOptions(port, handler, given);
        error = string.Empty;
        return true;
    }
}
