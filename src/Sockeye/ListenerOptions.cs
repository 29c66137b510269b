using System.Net;

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
    /// Layers that run before the handler, outermost first: each receives the next step and returns its own.
    /// </summary>
    internal List<Func<ConnectionDelegate, ConnectionDelegate>> Middleware { get; } = [];

    /// <summary>The listener's pipeline: its layers around <paramref name="handler"/> (or this listener's own handler).</summary>
    internal ConnectionDelegate BuildPipeline(ConnectionHandler handler)
    {
        var target = Handler ?? handler;
        ConnectionDelegate pipeline = target.OnConnectedAsync;
        for (var i = Middleware.Count - 1; i >= 0; i--)
        {
            pipeline = Middleware[i](pipeline);
        }

        return pipeline;
    }

    /// <inheritdoc />
    public override string ToString() =>
        IsLocalhost ? $"localhost:{((IPEndPoint)EndPoint).Port}" : EndPoint.ToString() ?? string.Empty;
}
