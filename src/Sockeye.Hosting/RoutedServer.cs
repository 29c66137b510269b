using Microsoft.Extensions.DependencyInjection;
using Sockeye.Framing;
using Sockeye.Messaging;

namespace Sockeye.Hosting;

/// <summary>
/// What the routing builders share besides their routes: the server they added, its fallback, its choices when a
/// handler throws and when a message does not parse, and the connection handler made of them once, when the server is first resolved.
/// </summary>
/// <typeparam name="TMessage">What the protocol's reader makes of a message.</typeparam>
internal sealed class RoutedServer<TMessage>
{
    private Func<IServiceProvider, MessageHandler<TMessage>>? _fallback;
    private MessageErrorHandler<TMessage>? _onError;
    private InvalidMessageHandler? _onInvalidMessage;

    /// <summary>Adds the server.</summary>
    /// <param name="services">The host's services.</param>
    /// <param name="reader">The protocol's reader.</param>
    /// <param name="router">Builds the router from the builder's routes, given the fallback, if there is one.</param>
    public RoutedServer(
        IServiceCollection services,
        IMessageReader<TMessage> reader,
        Func<IServiceProvider, MessageHandler<TMessage>?, MessageHandler<TMessage>> router) =>
        Sockeye = services.AddSockeye(provider => new MessageConnectionHandler<TMessage>(reader, router(provider, _fallback?.Invoke(provider)))
        {
            OnError = _onError,
            OnInvalidMessage = _onInvalidMessage,
        });

    /// <summary>The server's builder.</summary>
    public SockeyeBuilder Sockeye { get; }

    /// <summary>Sets the fallback's factory.</summary>
    public void MapFallback(Func<IServiceProvider, MessageHandler<TMessage>> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        _fallback = handler;
    }

    /// <summary>Sets what to do when a handler throws.</summary>
    public void OnError(MessageErrorHandler<TMessage> onError)
    {
        ArgumentNullException.ThrowIfNull(onError);
        _onError = onError;
    }

    /// <summary>Sets what to do when a message is framed whole but does not parse.</summary>
    public void OnInvalidMessage(InvalidMessageHandler onInvalidMessage)
    {
        ArgumentNullException.ThrowIfNull(onInvalidMessage);
        _onInvalidMessage = onInvalidMessage;
    }
}
