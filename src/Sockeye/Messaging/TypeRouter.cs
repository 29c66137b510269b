namespace Sockeye.Messaging;

/// <summary>
/// Routes each message to the handler for its runtime type, typed: for polymorphic messages, such as records derived
/// from one base that System.Text.Json reads by a type discriminator (<c>[JsonPolymorphic]</c>, <c>[JsonDerivedType]</c>).
/// Each handler gets its own type, with no cast.
/// </summary>
/// <typeparam name="TMessage">What the protocol's reader makes of a message: the base type.</typeparam>
/// <remarks>
/// A message goes to the handler mapped for its exact type (<see cref="object.GetType"/>), not one mapped for a base
/// type; a message of a type with no handler, or a null one, goes to the fallback, and without one ends its connection
/// with <see cref="ConnectionEndReason.ProtocolError"/>. Map every type before the first message arrives, as with
/// <see cref="MessageRouter{TMessage, TKey}"/>, which this uses. For System.Text.Json, a discriminator the base type
/// does not list fails the read unless <c>[JsonPolymorphic(IgnoreUnrecognizedTypeDiscriminators = true)]</c> makes it
/// a base-type message (for the fallback), and the discriminator must come first in the object unless the options
/// allow it elsewhere (<c>AllowOutOfOrderMetadataProperties</c>).
/// </remarks>
/// <example>
/// <code>
/// var router = new TypeRouter&lt;DeviceMessage&gt;()
///     .Map&lt;Reading&gt;((connection, reading) => { Store(reading.Device, reading.Celsius); return default; })
///     .Map&lt;Hello&gt;((connection, hello) => connection.WriteMessageAsync(codec, new Welcome(hello.Device)).AsValueTask())
///     .MapFallback((connection, message) => { connection.WriteMessage(codec, new Error("unknown type")); return default; });
/// await using var server = new SocketServer(options, new MessageConnectionHandler&lt;DeviceMessage&gt;(codec, router));
/// </code>
/// </example>
public sealed class TypeRouter<TMessage> : MessageHandler<TMessage>
{
    private readonly MessageRouter<TMessage, Type> _routes = new(static message => message?.GetType()!);

    /// <summary>Routes the messages of type <typeparamref name="TDerived"/> to <paramref name="handler"/>.</summary>
    /// <typeparam name="TDerived">The messages' exact type.</typeparam>
    /// <param name="handler">The handler of those messages.</param>
    /// <returns>This router.</returns>
    /// <exception cref="ArgumentException">The type has a handler already.</exception>
    /// <exception cref="InvalidOperationException">A message has been routed already.</exception>
    public TypeRouter<TMessage> Map<TDerived>(MessageHandler<TDerived> handler)
        where TDerived : TMessage
    {
        ArgumentNullException.ThrowIfNull(handler);
        _routes.Map(typeof(TDerived), handler as MessageHandler<TMessage> ?? new Typed<TDerived>(handler));
        return this;
    }

    /// <summary>Routes the messages of type <typeparamref name="TDerived"/> to a delegate.</summary>
    /// <typeparam name="TDerived">The messages' exact type.</typeparam>
    /// <param name="handler">The code to run for each of those messages.</param>
    /// <returns>This router.</returns>
    /// <exception cref="ArgumentException">The type has a handler already.</exception>
    /// <exception cref="InvalidOperationException">A message has been routed already.</exception>
    public TypeRouter<TMessage> Map<TDerived>(Func<Connection, TDerived, ValueTask> handler)
        where TDerived : TMessage => Map(MessageHandler.Create(handler));

    /// <summary>Routes the messages of a type with no handler to <paramref name="handler"/>, instead of ending their connection.</summary>
    /// <param name="handler">The handler of unknown types: it may reply with an error, or throw a <see cref="Framing.ProtocolException"/>.</param>
    /// <returns>This router.</returns>
    /// <exception cref="InvalidOperationException">A message has been routed already.</exception>
    public TypeRouter<TMessage> MapFallback(MessageHandler<TMessage> handler)
    {
        _routes.MapFallback(handler);
        return this;
    }

    /// <summary>Routes the messages of a type with no handler to a delegate.</summary>
    /// <param name="handler">The code to run for each of those messages.</param>
    /// <returns>This router.</returns>
    /// <exception cref="InvalidOperationException">A message has been routed already.</exception>
    public TypeRouter<TMessage> MapFallback(Func<Connection, TMessage, ValueTask> handler) => MapFallback(MessageHandler.Create(handler));

    /// <inheritdoc />
    public override ValueTask OnMessageAsync(Connection connection, TMessage message) => _routes.OnMessageAsync(connection, message);

    /// <summary>A handler of one derived type, given the messages its route guarantees are of that type.</summary>
    private sealed class Typed<TDerived>(MessageHandler<TDerived> handler) : MessageHandler<TMessage>
        where TDerived : TMessage
    {
        public override ValueTask OnMessageAsync(Connection connection, TMessage message) => handler.OnMessageAsync(connection, (TDerived)message!);
    }
}
