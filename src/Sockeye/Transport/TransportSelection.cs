using Sockeye.Transport.Linux;
using Sockeye.Transport.Sockets;

namespace Sockeye.Transport;

/// <summary>
/// Picks a server's transport: the one its options ask for (tests choose per server), else the operator's
/// <c>SOCKEYE_TRANSPORT=sockets|linux</c>, else Sockeye's own epoll transport where the machine supports it and
/// System.Net.Sockets everywhere else.
/// </summary>
internal static class TransportSelection
{
    public const string EnvironmentVariable = "SOCKEYE_TRANSPORT";

    // Read once: the operator's choice holds for the life of the process.
    private static readonly string? s_environment = Environment.GetEnvironmentVariable(EnvironmentVariable);

    /// <summary>The transport this machine runs when nothing asks for one.</summary>
    public static TransportKind Default => LinuxTransport.IsSupported ? TransportKind.Linux : TransportKind.Sockets;

    /// <summary>The transport a server runs on.</summary>
    /// <param name="requested">What the server's options ask for, if anything.</param>
    /// <exception cref="InvalidOperationException">SOCKEYE_TRANSPORT names no transport, or one this machine cannot run.</exception>
    public static TransportKind Resolve(TransportKind? requested) => Resolve(requested, s_environment);

    /// <summary>As <see cref="Resolve(TransportKind?)"/>, with the environment variable's value given.</summary>
    public static TransportKind Resolve(TransportKind? requested, string? environment)
    {
        var kind = requested ?? Parse(environment) ?? Default;
        if (kind == TransportKind.Linux && !LinuxTransport.IsSupported)
        {
            throw new InvalidOperationException(
                $"{EnvironmentVariable}=linux needs Linux with epoll; this machine runs only {EnvironmentVariable}=sockets (the default here).");
        }

        return kind;
    }

    /// <summary>The transport an operator named, or <see langword="null"/> for none.</summary>
    /// <exception cref="InvalidOperationException">The value names no transport.</exception>
    public static TransportKind? Parse(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" => null,
        "sockets" => TransportKind.Sockets,
        "linux" => TransportKind.Linux,
        _ => throw new InvalidOperationException(
            $"{EnvironmentVariable}={value} is not a transport: use sockets (System.Net.Sockets) or linux (Sockeye's epoll transport), or leave it unset."),
    };

    /// <summary>Creates the transport, which owns what its connections share (event loops, pools) until disposed.</summary>
    public static ITransport Create(TransportKind kind, ServerContext context) => kind switch
    {
        TransportKind.Linux => new LinuxTransport(context, Environment.ProcessorCount),
        _ => new SocketsTransport(),
    };
}
