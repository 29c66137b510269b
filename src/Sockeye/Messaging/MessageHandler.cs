namespace Sockeye.Messaging;

/// <summary>
/// User code that handles one message at a time: the base class for a protocol's handlers, and for the handlers a
/// router picks by key. <see cref="MessageConnectionHandler{TMessage}"/> reads each connection's messages and hands
/// them here, one after the other.
/// </summary>
/// <typeparam name="TMessage">What the protocol's reader makes of a message.</typeparam>
/// <remarks>
/// One instance serves every connection, so keep per-connection state on the connection, not in fields. A message
/// that points into the receive buffer (a framer's slice, say) is valid until the returned task completes. Replies
/// written with <see cref="Framing.ConnectionMessageExtensions.WriteMessage{TMessage}(Connection, Framing.IMessageWriter{TMessage}, TMessage)"/>
/// are sent together once no whole message is left to read: there is no need to flush.
/// </remarks>
public abstract class MessageHandler<TMessage>
{
    /// <summary>Handles <paramref name="message"/>, from <paramref name="connection"/>.</summary>
    /// <param name="connection">The connection the message came on: reply by writing to it.</param>
    /// <param name="message">The message.</param>
    /// <returns>A task that completes once the message is handled; the next message is read after it.</returns>
    /// <exception cref="Framing.ProtocolException">The client broke the protocol: the connection ends with the exception's end reason.</exception>
    public abstract ValueTask OnMessageAsync(Connection connection, TMessage message);
}

/// <summary>Makes message handlers of delegates.</summary>
public static class MessageHandler
{
    /// <summary>Wraps a delegate as a message handler.</summary>
    /// <typeparam name="TMessage">What the protocol's reader makes of a message.</typeparam>
    /// <param name="handler">The code to run for each message.</param>
    /// <returns>A handler that calls <paramref name="handler"/>.</returns>
    public static MessageHandler<TMessage> Create<TMessage>(Func<Connection, TMessage, ValueTask> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return new DelegateHandler<TMessage>(handler);
    }

    private sealed class DelegateHandler<TMessage>(Func<Connection, TMessage, ValueTask> handler) : MessageHandler<TMessage>
    {
        public override ValueTask OnMessageAsync(Connection connection, TMessage message) => handler(connection, message);
    }
}
