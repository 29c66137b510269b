using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;

namespace Sockeye.Hosting;

/// <summary>Configures the Sockeye server that <c>AddSockeye</c> added.</summary>
public sealed class SockeyeBuilder
{
    internal SockeyeBuilder(IServiceCollection services) => Services = services;

    /// <summary>The host's services.</summary>
    public IServiceCollection Services { get; }

    /// <summary>
    /// Registers <typeparamref name="THandler"/> under <paramref name="name"/>, for endpoints whose configuration says
    /// <c>"Handler": "name"</c>.
    /// </summary>
    /// <typeparam name="THandler">The handler, created once by dependency injection.</typeparam>
    /// <param name="name">The name endpoints use.</param>
    /// <returns>This builder.</returns>
    public SockeyeBuilder AddHandler<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] THandler>(string name)
        where THandler : ConnectionHandler
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Services.AddKeyedSingleton<ConnectionHandler, THandler>(name);
        return this;
    }

    /// <summary>Registers the handler <paramref name="handler"/> creates under <paramref name="name"/>, for endpoints that name it.</summary>
    /// <param name="name">The name endpoints use.</param>
    /// <param name="handler">Creates the handler, once.</param>
    /// <returns>This builder.</returns>
    public SockeyeBuilder AddHandler(string name, Func<IServiceProvider, ConnectionHandler> handler)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(handler);
        Services.AddKeyedSingleton(name, (provider, _) => handler(provider));
        return this;
    }

    /// <summary>
    /// Configures the options in code, after the configuration section has been applied: add endpoints, or set what
    /// configuration cannot express.
    /// </summary>
    /// <param name="configure">Changes the options.</param>
    /// <returns>This builder.</returns>
    public SockeyeBuilder Configure(Action<SocketServerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        Services.Configure(configure);
        return this;
    }
}
