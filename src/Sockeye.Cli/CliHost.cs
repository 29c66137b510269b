using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sockeye.Hosting;

namespace Sockeye.Cli;

/// <summary>
/// <c>sockeye serve</c> in the .NET Generic Host, through Sockeye.Hosting as any application would run it. Under
/// systemd the host tells the service manager when the server is listening and when it is stopping
/// (<c>Type=notify</c>); elsewhere the tool's own signal handling applies (a second Ctrl+C aborts).
/// </summary>
internal static class CliHost
{
    public static IHost Build(
        IConfiguration serverConfiguration,
        Func<IServiceProvider, ConnectionHandler> handler,
        Action<ILoggingBuilder> configureLogging,
        Action<SockeyeBuilder>? configureSockeye = null)
    {
        // The empty builder: no configuration sources, logging providers or lifetime messages of its own.
        // The content root is the current folder, as docs/configuration.md says: relative paths in the configuration (a
        // certificate's) are read from where the tool runs, as the same path given to a flag is, not from its install folder.
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = Directory.GetCurrentDirectory() });
        builder.Configuration.AddConfiguration(serverConfiguration);

        // The server's own drain timeout bounds a stop; the host must not cut it short at its default 30 s.
        builder.Services.Configure<HostOptions>(options => options.ShutdownTimeout = Timeout.InfiniteTimeSpan);
        builder.Services.AddSingleton<IHostLifetime, SignalsAreTheToolsLifetime>();

        // After the lifetime above, which it replaces when systemd runs the tool; before the logging, whose format
        // the user chose and which the journal-aware simple format serves under systemd too.
        builder.Services.AddSystemd();
        configureLogging(builder.Logging);

        // The tool reports a failed start itself, in one line; the host's own "Hosting failed to start" would repeat it.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None).AddFilter("Microsoft.Hosting", LogLevel.None);

        // The tool's handlers never block (what they print is queued), so they run on the I/O threads rather than
        // hopping to the thread pool for every arrival. A default, registered before the configuration is applied:
        // Sockeye:InlineScheduling=false turns it off.
        builder.Services.Configure<SocketServerOptions>(options => options.InlineScheduling = true);

        var sockeye = builder.Services.AddSockeye(handler);
        configureSockeye?.Invoke(sockeye);
        return builder.Build();
    }

    /// <summary>
    /// Starts the host, waits for a stop (<paramref name="stopRequested"/>, or the service manager's), then stops it
    /// gracefully; <paramref name="abort"/> cuts the drain short. Failures a user can fix become one-line errors.
    /// </summary>
    public static async Task RunAsync(IHost host, Task stopRequested, Action onStopping, CancellationToken abort)
    {
        try
        {
            await host.StartAsync(CancellationToken.None);
        }
        catch (OptionsValidationException ex)
        {
            throw Usage(ex);
        }
        catch (IOException ex)
        {
            // Such as a port in use: the server's message says which.
            throw new CliException(ex.Message);
        }

        var serviceManagerStop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.Register(() => serviceManagerStop.TrySetResult()))
        {
            await Task.WhenAny(stopRequested, serviceManagerStop.Task);
        }

        onStopping();
        await host.StopAsync(abort);
    }

    /// <summary>The server's options as the host would start it with them: configured, then checked.</summary>
    /// <exception cref="CliException">The configuration is not valid.</exception>
    public static SocketServerOptions GetOptions(IHost host)
    {
        try
        {
            return host.Services.GetRequiredService<IOptions<SocketServerOptions>>().Value;
        }
        catch (OptionsValidationException ex)
        {
            throw Usage(ex);
        }
    }

    private static CliException Usage(OptionsValidationException exception) => new(exception.Message, ExitCodes.Usage);

    /// <summary>The host's lifetime outside systemd: it waits for nothing; signals are the tool's (<see cref="ShutdownSignal"/>).</summary>
    private sealed class SignalsAreTheToolsLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
