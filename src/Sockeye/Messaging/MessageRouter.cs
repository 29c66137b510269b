using System.Collections.Frozen;

namespace Sockeye.Messaging;

/// <summary>
/// Routes each message to the handler for its key (a type field, an opcode), or to a fallback for keys with no
/// handler of their own.
/// </summary>
/// <typeparam name="TMessage">What the protocol's reader makes of a message.</typeparam>
/// <typeparam name="TKey">The key a message carries.</typeparam>
/// <remarks>
/// Map every key before the first message arrives: the routes are frozen then, for lookups without locks. A message
/// whose key has no handler, or that has no key (the key reads null), goes to the fallback; when there is none, it ends
/// its connection with <see cref="ConnectionEndReason.ProtocolError"/>. For keys that are text inside the message's bytes, such as a
/// command name, <see cref="CommandRouter{TMessage}"/> finds the handler without making a string.
/// </remarks>
/// <example>
/// <code>
/// var router = new MessageRouter&lt;DeviceMessage, string&gt;(message => message.Type)
///     .Map("telemetry", new TelemetryHandler())
///     .Map("ping", (connection, message) => { connection.WriteMessage(codec, Pong(message)); return default; })
///     .MapFallback(new UnknownTypeHandler());
/// await using var server = new SocketServer(options, new MessageConnectionHandler&lt;DeviceMessage&gt;(codec, router));
/// </code>
/// </example>
public sealed class MessageRouter<TMessage, TKey> : MessageHandler<TMessage>
    where TKey : notnull
{
    private readonly Func<TMessage, TKey> _key;
    private readonly Dictionary<TKey, MessageHandler<TMessage>> _routes;
    private FrozenDictionary<TKey, MessageHandler<TMessage>>? _frozen;
    private MessageHandler<TMessage>? _fallback;

    /// <summary>Creates a router with no routes.</summary>
    /// <param name="key">Reads a message's key.</param>
    /// <param name="comparer">Compares keys; the default comparer when <see langword="null"/> (for text keys, <see cref="StringComparer.OrdinalIgnoreCase"/> ignores case).</param>
    public MessageRouter(Func<TMessage, TKey> key, IEqualityComparer<TKey>? comparer = null)
    {
        ArgumentNullException.ThrowIfNull(key);
        _key = key;
        _routes = new Dictionary<TKey, MessageHandler<TMessage>>(comparer);
    }

    /// <summary>Routes the messages whose key is <paramref name="key"/> to <paramref name="handler"/>.</summary>
    /// <param name="key">The key.</param>
    /// <param name="handler">The handler of those messages.</param>
    /// <returns>This router.</returns>
    /// <exception cref="ArgumentException">The key has a handler already.</exception>
    /// <exception cref="InvalidOperationException">A message has been routed already.</exception>
    public MessageRouter<TMessage, TKey> Map(TKey key, MessageHandler<TMessage> handler)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(handler);
        Routes.ThrowIfFrozen(_frozen is not null);
        if (!_routes.TryAdd(key, handler))
        {
            throw new ArgumentException($"The key '{key}' has a handler already.", nameof(key));
        }

        return this;
    }

    /// <summary>Routes the messages whose key is <paramref name="key"/> to a delegate.</summary>
    /// <param name="key">The key.</param>
    /// <param name="handler">The code to run for each of those messages.</param>
    /// <returns>This router.</returns>
    /// <exception cref="ArgumentException">The key has a handler already.</exception>
    /// <exception cref="InvalidOperationException">A message has been routed already.</exception>
    public MessageRouter<TMessage, TKey> Map(TKey key, Func<Connection, TMessage, ValueTask> handler) => Map(key, MessageHandler.Create(handler));

    /// <summary>Routes the messages whose key has no handler to <paramref name="handler"/>, instead of ending their connection.</summary>
    /// <param name="handler">The handler of unknown keys: it may reply with an error, or throw a <see cref="Framing.ProtocolException"/>.</param>
    /// <returns>This router.</returns>
    /// <exception cref="InvalidOperationException">A message has been routed already.</exception>
    public MessageRouter<TMessage, TKey> MapFallback(MessageHandler<TMessage> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Routes.ThrowIfFrozen(_frozen is not null);
        _fallback = handler;
        return this;
    }

    /// <summary>Routes the messages whose key has no handler to a delegate.</summary>
    /// <param name="handler">The code to run for each of those messages.</param>
    /// <returns>This router.</returns>
    /// <exception cref="InvalidOperationException">A message has been routed already.</exception>
    public MessageRouter<TMessage, TKey> MapFallback(Func<Connection, TMessage, ValueTask> handler) => MapFallback(MessageHandler.Create(handler));

    /// <inheritdoc />
    public override ValueTask OnMessageAsync(Connection connection, TMessage message)
    {
        var routes = _frozen ?? Freeze();

        // A key the message lacks (a JSON message without its "type") is unknown, as one with no handler is.
        var key = _key(message);
        return key is not null && routes.TryGetValue(key, out var handler)
            ? handler.OnMessageAsync(connection, message)
            : Routes.Unknown(_fallback, connection, message);
    }

    private FrozenDictionary<TKey, MessageHandler<TMessage>> Freeze()
    {
        var frozen = _routes.ToFrozenDictionary(_routes.Comparer);
        return Interlocked.CompareExchange(ref _frozen, frozen, null) ?? frozen;
    }
}
