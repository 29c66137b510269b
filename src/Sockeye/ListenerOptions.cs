using System.Net;
using System.Net.Sockets;
using Sockeye.Protocols;
using Sockeye.Transport;

namespace Sockeye;

/// <summary>One endpoint the server listens on, and the options that apply to it alone.</summary>
public sealed class ListenerOptions
{
    /// <summary>Creates options for a listener on <paramref name="endPoint"/>.</summary>
    /// <param name="endPoint">An <see cref="IPEndPoint"/> (port 0 picks a free port) or a Unix domain socket endpoint.</param>
    public ListenerOptions(EndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        EndPoint = endPoint;
    }

    /// <summary>The endpoint to bind.</summary>
    public EndPoint EndPoint { get; }

    /// <summary>
    /// Set by <see cref="SocketServerOptions.ListenLocalhost"/>: bind the IPv4 loopback address and also the IPv6
    /// one where the machine has it, on the same port.
    /// </summary>
    internal bool IsLocalhost { get; init; }

    /// <summary>
    /// The handler for connections accepted on this listener, or <see langword="null"/> to use the server's.
    /// </summary>
    public ConnectionHandler? Handler { get; set; }

    /// <summary>
    /// The PROXY protocol on this listener: every connection must begin with a header from a trusted proxy, and
    /// handlers see the original client. <see langword="null"/> (the default) turns it off.
    /// </summary>
    public ProxyProtocolOptions? ProxyProtocol { get; set; }

    /// <summary>
    /// TLS on this listener, after the PROXY protocol header if there is one. <see langword="null"/> (the default)
    /// turns it off.
    /// </summary>
    public TlsOptions? Tls { get; set; }

    /// <summary>
    /// Lets several sockets, in this process or others, listen on the same address and port, with the kernel spreading
    /// new connections among them (SO_REUSEPORT). Lets a new process start before the old one stops. Linux and macOS
    /// only; off by default.
    /// </summary>
    public bool ReusePort { get; set; }

    /// <summary>
    /// On the IPv6 wildcard address (<c>::</c>), also accept IPv4 clients, which appear as IPv4-mapped IPv6 addresses
    /// (<c>::ffff:192.0.2.1</c>). On by default; turn it off to bind <c>0.0.0.0</c> separately.
    /// </summary>
    public bool DualMode { get; set; } = true;

    /// <summary>
    /// Layers that run before the handler, outermost first: each receives the next step and returns its own.
    /// </summary>
    internal List<Func<ConnectionDelegate, ConnectionDelegate>> Middleware { get; } = [];

    /// <summary>
    /// The listener's pipeline: the PROXY protocol, then TLS, then its other layers, around <paramref name="handler"/>
    /// (or this listener's own handler).
    /// </summary>
    internal ConnectionDelegate BuildPipeline(ConnectionHandler handler, ServerContext context)
    {
        var pipeline = HandlerStep(Handler ?? handler);
        for (var i = Middleware.Count - 1; i >= 0; i--)
        {
            pipeline = Middleware[i](pipeline);
        }

        // Built around the others so the order on the wire holds however they were configured: the PROXY header
        // comes first, in the clear, then the TLS handshake.
        if (Tls is not null)
        {
            pipeline = new TlsLayer(Tls, context).Wrap(pipeline);
        }

        if (ProxyProtocol is not null)
        {
            pipeline = new ProxyProtocolLayer(ProxyProtocol, context).Wrap(pipeline);
        }

        return pipeline;
    }

    /// <summary>The innermost step of every pipeline: the handler, once every layer has set up its transport.</summary>
    internal static ConnectionDelegate HandlerStep(ConnectionHandler handler) => connection =>
    {
        // From here on the connection may be listed and sent to: its transport is the one the handler sees.
        connection.OnHandlerStarting();
        return handler.OnConnectedAsync(connection);
    };

    /// <summary>Throws if an option is out of range or unsupported here.</summary>
    internal void Validate()
    {
        ProxyProtocol?.Validate();
        Tls?.Validate();
        if (ReusePort && !(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD()))
        {
            throw new PlatformNotSupportedException("ReusePort (SO_REUSEPORT) is supported on Linux, macOS and FreeBSD only.");
        }

        if (ReusePort && EndPoint is UnixDomainSocketEndPoint)
        {
            throw new InvalidOperationException($"ReusePort does not apply to the Unix domain socket {EndPoint}.");
        }
    }

    /// <inheritdoc />
    public override string ToString() =>
        IsLocalhost ? $"localhost:{((IPEndPoint)EndPoint).Port}" : EndPoint.ToString() ?? string.Empty;
}
