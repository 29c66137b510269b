using System.Buffers;
using Sockeye.Framing;
using Sockeye.Hosting;
using Sockeye.Messaging;

// In the namespace of IServiceCollection, as AddSockeye is.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds a Sockeye server whose connections are streams of messages, routed by key or by type to handlers from dependency injection.</summary>
public static class SockeyeMessagingServiceCollectionExtensions
{
    /// <summary>
    /// Adds a Sockeye server, as <c>AddSockeye&lt;THandler&gt;()</c> does, that reads each connection's messages with
    /// <paramref name="reader"/> and routes each to the handler mapped to its key (a type field, an opcode).
    /// </summary>
    /// <typeparam name="TMessage">What the reader makes of a message.</typeparam>
    /// <typeparam name="TKey">The key a message is routed by.</typeparam>
    /// <param name="services">The host's services.</param>
    /// <param name="reader">The protocol's reader, such as a <see cref="JsonMessageCodec{TMessage}"/>.</param>
    /// <param name="key">Reads a message's key.</param>
    /// <param name="comparer">Compares keys; the default comparer when <see langword="null"/>.</param>
    /// <returns>A builder to map keys to handlers.</returns>
    /// <example>
    /// <code>
    /// builder.Services.AddSockeye(codec, (DeviceMessage message) => message.Type)
    ///     .Map&lt;TelemetryHandler&gt;("telemetry")
    ///     .MapFallback&lt;UnknownTypeHandler&gt;();
    /// </code>
    /// </example>
    public static SockeyeRouterBuilder<TMessage, TKey> AddSockeye<TMessage, TKey>(
        this IServiceCollection services, IMessageReader<TMessage> reader, Func<TMessage, TKey> key, IEqualityComparer<TKey>? comparer = null)
        where TKey : notnull
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(key);
        return new SockeyeRouterBuilder<TMessage, TKey>(services, reader, (routes, fallback) =>
        {
            var router = new MessageRouter<TMessage, TKey>(key, comparer);
            foreach (var (routeKey, handler) in routes)
            {
                router.Map(routeKey, handler);
            }

            return fallback is null ? router : router.MapFallback(fallback);
        });
    }

    /// <summary>
    /// Adds a Sockeye server, as <c>AddSockeye&lt;THandler&gt;()</c> does, that reads each connection's messages with
    /// <paramref name="reader"/> and routes each by the command name in its bytes (see <see cref="CommandRouter{TMessage}"/>).
    /// </summary>
    /// <typeparam name="TMessage">What the reader makes of a message.</typeparam>
    /// <param name="services">The host's services.</param>
    /// <param name="reader">The protocol's reader.</param>
    /// <param name="name">Finds a message's command name: a slice of its bytes.</param>
    /// <param name="ignoreCase">Whether names match ignoring ASCII case.</param>
    /// <returns>A builder to map command names to handlers.</returns>
    public static SockeyeRouterBuilder<TMessage, string> AddSockeyeCommands<TMessage>(
        this IServiceCollection services, IMessageReader<TMessage> reader, Func<TMessage, ReadOnlySequence<byte>> name, bool ignoreCase = false)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(name);
        return new SockeyeRouterBuilder<TMessage, string>(services, reader, (routes, fallback) =>
        {
            var router = new CommandRouter<TMessage>(name, ignoreCase);
            foreach (var (command, handler) in routes)
            {
                router.Map(command, handler);
            }

            return fallback is null ? router : router.MapFallback(fallback);
        });
    }

    /// <summary>
    /// Adds a Sockeye server, as <c>AddSockeye&lt;THandler&gt;()</c> does, that reads each connection's messages with
    /// <paramref name="reader"/> and routes each by its runtime type to the handler mapped for that type, typed for it
    /// (see <see cref="TypeRouter{TMessage}"/>): for polymorphic messages, such as records derived from one base that
    /// System.Text.Json reads by a type discriminator (<c>[JsonPolymorphic]</c>, <c>[JsonDerivedType]</c>).
    /// </summary>
    /// <typeparam name="TMessage">What the reader makes of a message: the base type.</typeparam>
    /// <param name="services">The host's services.</param>
    /// <param name="reader">The protocol's reader, such as a <see cref="JsonMessageCodec{TMessage}"/> of the base type.</param>
    /// <returns>A builder to map types to handlers.</returns>
    /// <example>
    /// <code>
    /// builder.Services.AddSockeyeTypes(codec)
    ///     .Map&lt;Reading, ReadingHandler&gt;()       // ReadingHandler : MessageHandler&lt;Reading&gt;
    ///     .Map&lt;Hello, HelloHandler&gt;()
    ///     .MapFallback&lt;UnknownTypeHandler&gt;();  // UnknownTypeHandler : MessageHandler&lt;DeviceMessage&gt;
    /// </code>
    /// </example>
    public static SockeyeTypeRouterBuilder<TMessage> AddSockeyeTypes<TMessage>(this IServiceCollection services, IMessageReader<TMessage> reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return new SockeyeTypeRouterBuilder<TMessage>(services, reader);
    }
}
