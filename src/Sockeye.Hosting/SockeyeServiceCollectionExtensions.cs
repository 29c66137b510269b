using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sockeye;
using Sockeye.Hosting;

// In the namespace of IServiceCollection, as ASP.NET Core's Add* methods are, so AddSockeye is found without a using.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds a Sockeye server to a host's services.</summary>
public static class SockeyeServiceCollectionExtensions
{
    /// <summary>
    /// Adds a Sockeye server that starts and stops with the host and runs <typeparamref name="THandler"/>, created by
    /// dependency injection, for each connection. Its options are read from the <c>Sockeye</c> configuration section
    /// (see <see cref="SockeyeConfiguration"/>) and checked when the host starts: bad configuration stops the host
    /// from starting, with an <see cref="OptionsValidationException"/> that names the setting. Stopping the host
    /// drains connections as <see cref="SocketServer.StopAsync"/> does, within the host's shutdown timeout.
    /// </summary>
    /// <typeparam name="THandler">The handler for connections whose endpoint names no handler of its own.</typeparam>
    /// <param name="services">The host's services.</param>
    /// <returns>A builder to add named handlers and configure options in code.</returns>
    public static SockeyeBuilder AddSockeye<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] THandler>(
        this IServiceCollection services)
        where THandler : ConnectionHandler
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton<THandler>();
        return services.AddSockeye(static provider => provider.GetRequiredService<THandler>());
    }

    /// <summary>
    /// Adds a Sockeye server, as <see cref="AddSockeye{THandler}(IServiceCollection)"/> does, whose handler
    /// <paramref name="handler"/> creates. Called again, the last handler given wins.
    /// </summary>
    /// <param name="services">The host's services.</param>
    /// <param name="handler">Creates the handler for connections whose endpoint names no handler of its own.</param>
    /// <returns>A builder to add named handlers and configure options in code.</returns>
    public static SockeyeBuilder AddSockeye(this IServiceCollection services, Func<IServiceProvider, ConnectionHandler> handler)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(handler);
        services.AddOptions<SocketServerOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<SocketServerOptions>, SocketServerOptionsSetup>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SocketServerOptions>, SocketServerOptionsValidation>());
        services.Replace(ServiceDescriptor.Singleton(provider => new DefaultHandler(handler(provider))));
        services.TryAddSingleton(CreateServer);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, SockeyeHostedService>());
        return new SockeyeBuilder(services);
    }

    private static SocketServer CreateServer(IServiceProvider provider) => new(
        provider.GetRequiredService<IOptions<SocketServerOptions>>().Value,
        provider.GetRequiredService<DefaultHandler>().Handler,
        provider.GetService<ILoggerFactory>(),
        provider.GetService<TimeProvider>(),
        provider.GetService<IMeterFactory>());
}
