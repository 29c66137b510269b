using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Sockeye.Messaging;

namespace Sockeye.Hosting;

/// <summary>
/// Maps message keys to handlers created by dependency injection, for the server that
/// <c>AddSockeye(reader, key)</c> or <c>AddSockeyeCommands(reader, name)</c> added. The router is built, and its
/// handlers created (once each), when the server is first resolved.
/// </summary>
/// <typeparam name="TMessage">What the protocol's reader makes of a message.</typeparam>
/// <typeparam name="TKey">The key a message is routed by.</typeparam>
public sealed class SockeyeRouterBuilder<TMessage, TKey>
    where TKey : notnull
{
    private readonly List<(TKey Key, Func<IServiceProvider, MessageHandler<TMessage>> Handler)> _routes = [];
    private readonly RoutedServer<TMessage> _server;

    /// <summary>Adds the server, whose router <paramref name="router"/> builds from the routes and the fallback.</summary>
    internal SockeyeRouterBuilder(
        IServiceCollection services,
        Framing.IMessageReader<TMessage> reader,
        Func<IEnumerable<(TKey Key, MessageHandler<TMessage> Handler)>, MessageHandler<TMessage>?, MessageHandler<TMessage>> router) =>
        _server = new(services, reader, (provider, fallback) => router([.. _routes.Select(route => (route.Key, route.Handler(provider)))], fallback));

    /// <summary>The server's builder: named handlers for other endpoints, and options in code.</summary>
    public SockeyeBuilder Sockeye => _server.Sockeye;

    /// <summary>The host's services.</summary>
    public IServiceCollection Services => Sockeye.Services;

    /// <summary>Routes the messages whose key is <paramref name="key"/> to <typeparamref name="THandler"/>.</summary>
    /// <typeparam name="THandler">The handler, created once by dependency injection.</typeparam>
    /// <param name="key">The key.</param>
    /// <returns>This builder.</returns>
    public SockeyeRouterBuilder<TMessage, TKey> Map<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] THandler>(TKey key)
        where THandler : MessageHandler<TMessage>
    {
        Services.TryAddSingleton<THandler>();
        return Map(key, static provider => provider.GetRequiredService<THandler>());
    }

    /// <summary>Routes the messages whose key is <paramref name="key"/> to the handler <paramref name="handler"/> creates.</summary>
    /// <param name="key">The key.</param>
    /// <param name="handler">Creates the handler, once.</param>
    /// <returns>This builder.</returns>
    public SockeyeRouterBuilder<TMessage, TKey> Map(TKey key, Func<IServiceProvider, MessageHandler<TMessage>> handler)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(handler);
        _routes.Add((key, handler));
        return this;
    }

    /// <summary>Routes the messages whose key has no handler to <typeparamref name="THandler"/>, instead of ending their connection.</summary>
    /// <typeparam name="THandler">The handler, created once by dependency injection.</typeparam>
    /// <returns>This builder.</returns>
    public SockeyeRouterBuilder<TMessage, TKey> MapFallback<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] THandler>()
        where THandler : MessageHandler<TMessage>
    {
        Services.TryAddSingleton<THandler>();
        return MapFallback(static provider => provider.GetRequiredService<THandler>());
    }

    /// <summary>Routes the messages whose key has no handler to the handler <paramref name="handler"/> creates.</summary>
    /// <param name="handler">Creates the handler, once.</param>
    /// <returns>This builder.</returns>
    public SockeyeRouterBuilder<TMessage, TKey> MapFallback(Func<IServiceProvider, MessageHandler<TMessage>> handler)
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
    public SockeyeRouterBuilder<TMessage, TKey> OnError(MessageErrorHandler<TMessage> onError)
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
    public SockeyeRouterBuilder<TMessage, TKey> OnInvalidMessage(InvalidMessageHandler onInvalidMessage)
    {
        _server.OnInvalidMessage(onInvalidMessage);
        return this;
    }
}
