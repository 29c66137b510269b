using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Sockeye.Hosting;

/// <summary>Applies the host's <c>Sockeye</c> configuration section to the server's options.</summary>
internal sealed class SocketServerOptionsSetup(IServiceProvider services) : IConfigureOptions<SocketServerOptions>
{
    public void Configure(SocketServerOptions options)
    {
        // A container built by hand may have no configuration at all; the options are then what code sets.
        if (services.GetService<IConfiguration>() is { } configuration)
        {
            SockeyeConfiguration.BindRelativeTo(
                configuration.GetSection(SockeyeConfiguration.SectionName),
                options,
                name => services.GetKeyedService<ConnectionHandler>(name),

                // Relative certificate paths are the application's files, as Kestrel reads them: from the content root.
                services.GetService<IHostEnvironment>()?.ContentRootPath ?? Directory.GetCurrentDirectory());
        }
    }
}
