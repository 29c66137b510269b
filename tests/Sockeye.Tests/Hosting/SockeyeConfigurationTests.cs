using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Sockeye.Handlers;
using Sockeye.Hosting;

namespace Sockeye.Tests.Hosting;

public class SockeyeConfigurationTests
{
    [Fact(Timeout = Timeouts.Fast)]
    public Task Settings_are_read_by_property_name_with_durations_in_seconds()
    {
        var options = Bind(new()
        {
            ["Sockeye:MaxMessageSize"] = "65536",
            ["Sockeye:Backlog"] = "64",
            ["Sockeye:ShutdownTimeout"] = "2.5",
            ["Sockeye:LingerTimeout"] = "00:01:00",
            ["Sockeye:InlineScheduling"] = "true",
            ["Sockeye:DrainDelay"] = "3",
        });

        Assert.Equal(65536, options.MaxMessageSize);
        Assert.Equal(64, options.Backlog);
        Assert.Equal(TimeSpan.FromSeconds(2.5), options.ShutdownTimeout);
        Assert.Equal(TimeSpan.FromMinutes(1), options.LingerTimeout);
        Assert.True(options.InlineScheduling);
        Assert.Equal(TimeSpan.FromSeconds(3), options.DrainDelay);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task Keys_match_without_regard_to_case_as_environment_variables_need()
    {
        var options = Bind(new() { ["SOCKEYE:MAXMESSAGESIZE"] = "100", ["Sockeye:shutdowntimeout"] = "Infinite" });

        Assert.Equal(100, options.MaxMessageSize);
        Assert.Equal(Timeout.InfiniteTimeSpan, options.ShutdownTimeout);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task Endpoints_are_urls_by_name_or_by_position()
    {
        var options = Bind(new()
        {
            ["Sockeye:Endpoints:Public:Url"] = "tcp://0.0.0.0:5000",
            ["Sockeye:Endpoints:Local:Url"] = "tcp://localhost:5001",
            ["Sockeye:Endpoints:V6:Url"] = "TCP://[::1]:0/",
            ["Sockeye:Endpoints:Any:Url"] = "tcp://*:5002",
            ["Sockeye:Endpoints:Socket:Url"] = "unix:/run/sockeye.sock",
            ["Sockeye:Endpoints:5"] = "tcp://127.0.0.1:5003",
        });

        // Configuration orders sections by key, numbers first. "*" is every address: IPv6's (dual mode) where there is IPv6.
        var any = Socket.OSSupportsIPv6 ? "[::]:5002" : "0.0.0.0:5002";
        Assert.Equal(
            ["127.0.0.1:5003", any, "localhost:5001", "0.0.0.0:5000", "/run/sockeye.sock", "[::1]:0"],
            options.Listeners.Select(listener => listener.ToString()));
        Assert.IsType<UnixDomainSocketEndPoint>(options.Listeners[4].EndPoint);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task An_endpoint_can_name_its_own_handler()
    {
        var echo = new EchoHandler();
        var options = Bind(
            new() { ["Sockeye:Endpoints:Main:Url"] = "tcp://127.0.0.1:0", ["Sockeye:Endpoints:Main:Handler"] = "echo" },
            name => name == "echo" ? echo : null);

        Assert.Same(echo, Assert.Single(options.Listeners).Handler);
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("Sockeye:MaxMessageSize", "1MB", "Sockeye:MaxMessageSize: '1MB' is not a whole number.")]
    [InlineData("Sockeye:InlineScheduling", "yes", "Sockeye:InlineScheduling: 'yes' is not true or false.")]
    [InlineData("Sockeye:ShutdownTimeout", "soon", "Sockeye:ShutdownTimeout: 'soon' is not a number of seconds (such as 30 or 2.5), a time span (00:00:30) or Infinite.")]
    [InlineData("Sockeye:Endpoints:Main:Url", "http://localhost:80", "Sockeye:Endpoints:Main: 'http://localhost:80' is not an endpoint URL: tcp://ADDRESS:PORT (such as tcp://127.0.0.1:5000, tcp://[::]:5000, tcp://localhost:5000 or tcp://*:5000) or unix:PATH.")]
    [InlineData("Sockeye:Endpoints:Main:Url", "tcp://localhost:70000", "Sockeye:Endpoints:Main: 'tcp://localhost:70000' needs a port from 0 to 65535: tcp://ADDRESS:PORT (such as tcp://127.0.0.1:5000, tcp://[::]:5000, tcp://localhost:5000 or tcp://*:5000) or unix:PATH.")]
    [InlineData("Sockeye:Endpoints:Main:Url", "tcp://::1:5000", "Sockeye:Endpoints:Main: 'tcp://::1:5000' has no IP address (IPv6 goes in brackets), localhost or *: tcp://ADDRESS:PORT (such as tcp://127.0.0.1:5000, tcp://[::]:5000, tcp://localhost:5000 or tcp://*:5000) or unix:PATH.")]
    [InlineData("Sockeye:Endpoints:Main:Handler", "echo", "Sockeye:Endpoints:Main: an endpoint needs a Url: tcp://ADDRESS:PORT (such as tcp://127.0.0.1:5000, tcp://[::]:5000, tcp://localhost:5000 or tcp://*:5000) or unix:PATH.")]
    public Task A_bad_key_or_value_is_an_error_that_names_it(string key, string value, string expected)
    {
        var error = Assert.Throws<OptionsValidationException>(() => Bind(new() { [key] = value }));

        Assert.Equal([expected], error.Failures);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task A_misspelt_key_is_an_error_that_lists_the_settings()
    {
        var error = Assert.Throws<OptionsValidationException>(() => Bind(new() { ["Sockeye:MaxMesageSize"] = "1" }));

        // Every option the library has is a setting, so the list grows with it; these are here today.
        var message = Assert.Single(error.Failures);
        const string Start = "Sockeye:MaxMesageSize is not a setting here; the settings are ";
        Assert.StartsWith(Start, message, StringComparison.Ordinal);
        var settings = message[Start.Length..].TrimEnd('.').Split(", ");
        Assert.Equal(settings.Order(StringComparer.Ordinal), settings);
        Assert.Superset(
            new HashSet<string> { "Backlog", "Endpoints", "InlineScheduling", "LingerTimeout", "MaxMessageSize", "MaxReceiveBufferSize", "MaxSendBufferSize", "ShutdownTimeout" },
            settings.ToHashSet());
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task Every_error_is_reported_at_once()
    {
        var error = Assert.Throws<OptionsValidationException>(() => Bind(new()
        {
            ["Sockeye:Endpoints:Main:Url"] = "tcp://127.0.0.1:0",
            ["Sockeye:Endpoints:Main:Handler"] = "nobody",
            ["Sockeye:Endpoints:Main:Colour"] = "blue",
            ["Sockeye:Backlog"] = "many",
        }));

        Assert.Equal(3, error.Failures.Count());
        Assert.Equal("Sockeye:Backlog: 'many' is not a whole number.", error.Failures.ElementAt(0));
        Assert.StartsWith("Sockeye:Endpoints:Main:Colour is not a setting here; the settings are ", error.Failures.ElementAt(1), StringComparison.Ordinal);
        Assert.Contains("Handler, ", error.Failures.ElementAt(1), StringComparison.Ordinal);
        Assert.EndsWith("Url.", error.Failures.ElementAt(1), StringComparison.Ordinal);
        Assert.Equal(
            "Sockeye:Endpoints:Main:Handler: no handler is registered as 'nobody'; register one with AddSockeye(...).AddHandler<THandler>(\"nobody\").",
            error.Failures.ElementAt(2));
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task What_is_written_reads_back_the_same()
    {
        var options = new SocketServerOptions { MaxMessageSize = 12345, ShutdownTimeout = TimeSpan.FromMilliseconds(1500), LingerTimeout = Timeout.InfiniteTimeSpan };
        options.ListenLocalhost(11000);
        options.Listen(IPAddress.IPv6Loopback, 0);
        options.Listen(new UnixDomainSocketEndPoint("/tmp/sockeye.sock"));
        var written = SockeyeConfiguration.ToConfiguration(options).ToList();

        var read = Bind(written.ToDictionary(pair => "Sockeye:" + pair.Key, pair => pair.Value));

        Assert.Equal(written, SockeyeConfiguration.ToConfiguration(read));
        Assert.Contains(new KeyValuePair<string, string?>("Endpoints:0:Url", "tcp://localhost:11000"), written);
        Assert.Contains(new KeyValuePair<string, string?>("Endpoints:1:Url", "tcp://[::1]:0"), written);
        Assert.Contains(new KeyValuePair<string, string?>("Endpoints:2:Url", "unix:/tmp/sockeye.sock"), written);
        Assert.Contains(new KeyValuePair<string, string?>("ShutdownTimeout", "1.5"), written);
        Assert.Contains(new KeyValuePair<string, string?>("LingerTimeout", "Infinite"), written);
        Assert.Contains(new KeyValuePair<string, string?>("MaxMessageSize", "12345"), written);
        return Task.CompletedTask;
    }

    private static SocketServerOptions Bind(Dictionary<string, string?> values, Func<string, ConnectionHandler?>? handlers = null)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var options = new SocketServerOptions();
        SockeyeConfiguration.Bind(configuration.GetSection(SockeyeConfiguration.SectionName), options, handlers);
        return options;
    }
}
