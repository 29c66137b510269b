using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Sockeye.Messaging;

namespace Sockeye.Hosting;

/// <summary>
/// Maps message types to handlers created by dependency injection, for the server that <c>AddSockeyeTypes(reader)</c>
/// added: each handler is typed for its own messages, with no cast (see <see cref="TypeRouter{TMessage}"/>). The router
/// is built, and its handlers created (once each), when the server is first resolved.
/// </summary>
/// <typeparam name="TMessage">What the protocol's reader makes of a message: the base type.</typeparam>
public sealed class SockeyeTypeRouterBuilder<TMessage>
{
    private readonly List<(Type Type, Action<IServiceProvider, TypeRouter<TMessage>> Map)> _routes = [];
    private readonly RoutedServer<TMessage> _server;

    internal SockeyeTypeRouterBuilder(IServiceCollection services, Framing.IMessageReader<TMessage> reader) =>
        _server = new(services, reader, Build);

    /// <summary>The server's builder: named handlers for other endpoints, and options in code.</summary>
    public SockeyeBuilder Sockeye => _server.Sockeye;

    /// <summary>The host's services.</summary>
    public IServiceCollection Services => Sockeye.Services;

    /// <summary>Routes the messages of type <typeparamref name="TDerived"/> to <typeparamref name="THandler"/>.</summary>
    /// <typeparam name="TDerived">The messages' exact type.</typeparam>
    /// <typeparam name="THandler">The handler, created once by dependency injection.</typeparam>
    /// <returns>This builder.</returns>
    /// <remarks>A type is mapped once: mapping it again stops the host from starting, with an <see cref="InvalidOperationException"/>.</remarks>
    public SockeyeTypeRouterBuilder<TMessage> Map<TDerived, [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] THandler>()
        where TDerived : TMessage
        where THandler : MessageHandler<TDerived>
    {
        Services.TryAddSingleton<THandler>();
        return Map<TDerived>(static provider => provider.GetRequiredService<THandler>());
    }

    /// <summary>Routes the messages of type <typeparamref name="TDerived"/> to the handler <paramref name="handler"/> creates.</summary>
    /// <typeparam name="TDerived">The messages' exact type.</typeparam>
    /// <param name="handler">Creates the handler, once.</param>
    /// <returns>This builder.</returns>
    /// <remarks>A type is mapped once: mapping it again stops the host from starting, with an <see cref="InvalidOperationException"/>.</remarks>
    public SockeyeTypeRouterBuilder<TMessage> Map<TDerived>(Func<IServiceProvider, MessageHandler<TDerived>> handler)
        where TDerived : TMessage
    {
        ArgumentNullException.ThrowIfNull(handler);
        _routes.Add((typeof(TDerived), (provider, router) => router.Map(handler(provider))));
        return this;
    }

    /// <summary>
    /// Routes the messages of a type with no handler to <typeparamref name="THandler"/>, instead of ending their
    /// connection with <see cref="ConnectionEndReason.ProtocolError"/>.
    /// </summary>
    /// <typeparam name="THandler">The handler, created once by dependency injection.</typeparam>
    /// <returns>This builder.</returns>
    public SockeyeTypeRouterBuilder<TMessage> MapFallback<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] THandler>()
        where THandler : MessageHandler<TMessage>
    {
        Services.TryAddSingleton<THandler>();
        return MapFallback(static provider => provider.GetRequiredService<THandler>());
    }

    /// <summary>Routes the messages of a type with no handler to the handler <paramref name="handler"/> creates.</summary>
    /// <param name="handler">Creates the handler, once.</param>
    /// <returns>This builder.</returns>
    public SockeyeTypeRouterBuilder<TMessage> MapFallback(Func<IServiceProvider, MessageHandler<TMessage>> handler)
    {
        _server.MapFallback(handler);
        return this;
    }

    /// <summary>
    /// What to do when a message's handler throws: reply with an error and go on, or end the connection (see
    /// <see cref="MessageConnectionHandler{TMessage}.OnError"/>). Without it, the connection ends.
    /// </summary>
    /// <param name="onError">Decides, and may reply first.</param>
    /// <returns>This builder.</returns>
    public SockeyeTypeRouterBuilder<TMessage> OnError(MessageErrorHandler<TMessage> onError)
    {
        _server.OnError(onError);
        return this;
    }

    /// <summary>
    /// What to do when a client sends a message that is framed whole but does not parse (malformed JSON, say): reply
    /// with an error and go on, or end the connection (see
    /// <see cref="MessageConnectionHandler{TMessage}.OnInvalidMessage"/>). Without it, the connection ends.
    /// </summary>
    /// <param name="onInvalidMessage">Decides, and may reply first.</param>
    /// <returns>This builder.</returns>
    public SockeyeTypeRouterBuilder<TMessage> OnInvalidMessage(InvalidMessageHandler onInvalidMessage)
    {
        _server.OnInvalidMessage(onInvalidMessage);
        return this;
    }

    /// <summary>The router of every type mapped, checked for a type mapped twice before any handler is created.</summary>
    private TypeRouter<TMessage> Build(IServiceProvider provider, MessageHandler<TMessage>? fallback)
    {
        if (_routes.CountBy(route => route.Type).FirstOrDefault(type => type.Value > 1) is { Value: > 1 } twice)
        {
            throw new InvalidOperationException(
                $"The message type '{twice.Key}' is mapped twice in AddSockeyeTypes<{typeof(TMessage).Name}>(): a type has one handler, so map it once.");
        }

        var router = new TypeRouter<TMessage>();
        foreach (var (_, map) in _routes)
        {
            map(provider, router);
        }

        return fallback is null ? router : router.MapFallback(fallback);
    }
}
