namespace Sockeye.Transport;

/// <summary>The transports a server can carry its connections on (see <see cref="TransportSelection"/>).</summary>
internal enum TransportKind
{
    /// <summary>System.Net.Sockets: every platform (Transport/Sockets/).</summary>
    Sockets,

    /// <summary>Sockeye's own epoll loops: Linux only, its default there (Transport/Linux/).</summary>
    Linux,
}
