namespace Sockeye;

/// <summary>
/// User code that serves one connection. The returned task is the connection's lifetime: when it
/// completes, the server flushes what the handler wrote, shuts down its sending side, briefly drains what
/// the client still sends, and closes the socket.
/// </summary>
public abstract class ConnectionHandler
{
    /// <summary>Serves <paramref name="connection"/> until the protocol is done with it.</summary>
    /// <param name="connection">The accepted connection.</param>
    /// <returns>A task that completes when the connection should be closed.</returns>
    /// <exception cref="Framing.ProtocolException">
    /// The client sent what the protocol does not allow. The connection ends with the exception's
    /// <see cref="Framing.ProtocolException.EndReason"/>, logged as the client's doing, and closes as after a return
    /// (what was written is sent, then the sending side is shut down), not with a reset. Any other exception ends it
    /// with <see cref="ConnectionEndReason.HandlerError"/>, logged as an error, and aborts it.
    /// </exception>
    public abstract Task OnConnectedAsync(Connection connection);

    /// <summary>Wraps a delegate as a handler.</summary>
    /// <param name="handler">The code to run for each connection.</param>
    /// <returns>A handler that calls <paramref name="handler"/>.</returns>
    public static ConnectionHandler Create(Func<Connection, Task> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return new DelegateHandler(handler);
    }

    private sealed class DelegateHandler(Func<Connection, Task> handler) : ConnectionHandler
    {
        public override Task OnConnectedAsync(Connection connection) => handler(connection);
    }
}
