namespace Sockeye.Handlers;

/// <summary>
/// Answers HAProxy's agent check: <c>ready</c> while the server serves, <c>drain</c> once it is draining (see
/// <see cref="SocketServerOptions.DrainDelay"/>), one line, then closes. Put it on a listener of its own, without the
/// PROXY protocol or TLS, and point HAProxy at it:
/// <c>server s1 10.0.1.11:11000 check agent-check agent-port 11001 agent-inter 1s</c>. HAProxy then marks the server
/// DRAIN within one agent interval of a stop beginning, and sends it no new clients, with no operator command.
/// </summary>
/// <remarks>
/// <c>ready</c>, not <c>up</c>: it also lifts the DRAIN state that the previous process reported, when the server
/// comes back. An agent that cannot be reached changes nothing in HAProxy; the regular health check notices a server
/// that is gone.
/// </remarks>
/// <example>
/// <code>
/// var options = new SocketServerOptions { DrainDelay = TimeSpan.FromSeconds(3) };
/// options.Listen(IPAddress.Any, 11000);
/// options.Listen(IPAddress.Any, 11001).Handler = new AgentCheckHandler();
/// </code>
/// </example>
public sealed class AgentCheckHandler : ConnectionHandler
{
    private static readonly ReadOnlyMemory<byte> s_ready = "ready\n"u8.ToArray();
    private static readonly ReadOnlyMemory<byte> s_drain = "drain\n"u8.ToArray();

    /// <inheritdoc />
    public override async Task OnConnectedAsync(Connection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);

        // Whatever HAProxy sends (its agent-send string) needs no answer of its own: the server's closing drain reads it.
        var reply = connection.ServerDraining.IsCancellationRequested ? s_drain : s_ready;
        await connection.Transport.Output.WriteAsync(reply).ConfigureAwait(false);
    }
}
