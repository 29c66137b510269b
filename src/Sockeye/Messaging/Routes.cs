using Sockeye.Framing;

namespace Sockeye.Messaging;

/// <summary>What the routers share: the rule that routes are set before the first message, and what an unknown key does.</summary>
internal static class Routes
{
    public static void ThrowIfFrozen(bool frozen)
    {
        if (frozen)
        {
            throw new InvalidOperationException("Routes are mapped before the first message is routed.");
        }
    }

    /// <summary>A message whose key has no handler: the fallback's, or the client's protocol error.</summary>
    public static ValueTask Unknown<TMessage>(MessageHandler<TMessage>? fallback, Connection connection, TMessage message) =>
        fallback?.OnMessageAsync(connection, message) ?? ValueTask.FromException(new ProtocolException("The client sent a message whose key has no handler."));
}
