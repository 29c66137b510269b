using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Sockeye.Cli;
using Sockeye.Handlers;
using Sockeye.Hosting;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Cli;

public sealed class CliConfigurationTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("sockeye-config-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact(Timeout = Timeouts.Fast)]
    public Task Flags_override_the_environment_which_overrides_the_file()
    {
        var file = WriteFile("""{ "Sockeye": { "MaxMessageSize": 1000, "Backlog": 10, "LingerTimeout": 3 } }""");
        var environment = new Dictionary<string, string> { ["SOCKEYE__MAXMESSAGESIZE"] = "2000", ["SOCKEYE__Backlog"] = "20" };
        var flags = new Dictionary<string, string?> { ["Sockeye:MaxMessageSize"] = "3000" };

        var options = Bind(CliConfiguration.Load(file, environment, flags));

        Assert.Equal(3000, options.MaxMessageSize);
        Assert.Equal(20, options.Backlog);
        Assert.Equal(TimeSpan.FromSeconds(3), options.LingerTimeout);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task Only_variables_with_the_sockeye_prefix_are_read_and_double_underscores_nest()
    {
        var environment = new Dictionary<string, string>
        {
            ["SOCKEYE__ENDPOINTS__PUBLIC__URL"] = "tcp://0.0.0.0:7000",
            ["SOCKEYE__SERVE__HANDLER"] = "echo",
            ["SOCKEYEX"] = "ignored",
            ["SOCKEYE__"] = "ignored",
            ["PATH"] = "/usr/bin",
        };

        Assert.Equal(
            [new("Sockeye:ENDPOINTS:PUBLIC:URL", "tcp://0.0.0.0:7000"), new("Sockeye:SERVE:HANDLER", "echo")],
            CliConfiguration.FromEnvironment(environment).OrderBy(pair => pair.Key, StringComparer.Ordinal));
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task A_config_file_that_is_missing_is_an_error_of_usage()
    {
        var error = Assert.Throws<CliException>(() => CliConfiguration.Load(Path.Combine(_folder, "nope.json"), Empty(), Flags()));

        Assert.Equal($"--config: there is no file '{Path.Combine(_folder, "nope.json")}'.", error.Message);
        Assert.Equal(ExitCodes.Usage, error.ExitCode);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task A_config_file_that_is_not_json_says_where_in_one_line()
    {
        var file = WriteFile("{ \"Sockeye\": { \"Backlog\": 10,, } }");

        var error = Assert.Throws<CliException>(() => CliConfiguration.Load(file, Empty(), Flags()));

        Assert.StartsWith($"{file}: ", error.Message, StringComparison.Ordinal);
        Assert.Contains("',' is an invalid start of a property name", error.Message, StringComparison.Ordinal);
        Assert.Contains("LineNumber: 0 | BytePositionInLine:", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task With_no_file_beside_the_tool_there_is_nothing_to_read_and_no_error()
    {
        Assert.False(File.Exists(CliConfiguration.DefaultFile));

        var configuration = CliConfiguration.Load(null, Empty(), Flags());

        Assert.DoesNotContain(configuration.Root.AsEnumerable(), pair => pair.Value is not null);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task The_server_sees_neither_the_tools_settings_nor_endpoints_that_flags_replace()
    {
        var file = WriteFile("""
            { "Sockeye": { "Endpoints": { "Public": { "Url": "tcp://0.0.0.0:7000" } }, "Backlog": 10, "Serve": { "Handler": "echo" } } }
            """);

        var fromFile = CliConfiguration.Load(file, Empty(), Flags()).ForServer("tcp://localhost:11000");
        var fromFlags = CliConfiguration.Load(file, Empty(), Flags(("Sockeye:Endpoints:0:Url", "tcp://127.0.0.1:5"))).ForServer("tcp://localhost:11000");
        var fromNowhere = CliConfiguration.Load(null, Empty(), Flags()).ForServer("tcp://localhost:11000");

        Assert.Equal(["0.0.0.0:7000"], Bind(fromFile).Listeners.Select(listener => listener.ToString()));
        Assert.Equal(10, Bind(fromFile).Backlog);
        Assert.Equal(["127.0.0.1:5"], Bind(fromFlags).Listeners.Select(listener => listener.ToString()));
        Assert.Equal(["localhost:11000"], Bind(fromNowhere).Listeners.Select(listener => listener.ToString()));
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task A_flag_given_on_the_command_line_becomes_its_key_and_a_default_does_not()
    {
        var (handler, binding) = HandlerBinding();
        var command = new RootCommand { handler };
        var given = new Dictionary<string, string?>();
        var defaulted = new Dictionary<string, string?>();

        binding.AddIfGiven(command.Parse(["--handler", "echo"]), given);
        binding.AddIfGiven(command.Parse([]), defaulted);

        Assert.Equal(new Dictionary<string, string?> { ["Sockeye:Serve:Handler"] = "echo" }, given);
        Assert.Empty(defaulted);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task A_configured_value_is_held_to_the_flags_own_rules()
    {
        var (_, binding) = HandlerBinding();

        Assert.Equal("echo", binding.Read(Configuration(("Sockeye:Serve:Handler", "echo"))));
        Assert.Equal("print", binding.Read(Configuration()));
        Assert.Equal(new KeyValuePair<string, string?>("Sockeye:Serve:Handler", "print"), binding.Effective(Configuration()));
        var error = Assert.Throws<CliException>(() => binding.Read(Configuration(("Sockeye:Serve:Handler", "-bogus"))));
        Assert.Equal("Sockeye:Serve:Handler '-bogus': Argument '-bogus' not recognized. Must be one of: 'print' 'echo'", error.Message);
        Assert.Equal(ExitCodes.Usage, error.ExitCode);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task Printed_configuration_is_an_appsettings_file_that_reads_back_the_same()
    {
        KeyValuePair<string, string?>[] values =
        [
            new("Sockeye:Endpoints:Main:Url", "tcp://localhost:11000"),
            new("Sockeye:MaxMessageSize", "1048576"),
            new("Sockeye:ShutdownTimeout", "2.5"),
            new("Sockeye:InlineScheduling", "false"),
            new("Sockeye:Serve:Delimiter", "<EOF>"),
            new("Sockeye:Serve:Output", "007"),
        ];

        var json = ConfigurationJson.Write(values);
        var file = WriteFile(json);

        Assert.Contains("\"MaxMessageSize\": 1048576", json, StringComparison.Ordinal);
        Assert.Contains("\"ShutdownTimeout\": 2.5", json, StringComparison.Ordinal);
        Assert.Contains("\"InlineScheduling\": false", json, StringComparison.Ordinal);
        Assert.Contains("\"Delimiter\": \"<EOF>\"", json, StringComparison.Ordinal);
        Assert.Contains("\"Output\": \"007\"", json, StringComparison.Ordinal);

        // Keys are not case-sensitive, nor are booleans (JSON's false reads back as "False").
        Assert.Equal(
            values.Select(Upper).Order(),
            new ConfigurationBuilder().AddJsonFile(file).Build().AsEnumerable().Where(pair => pair.Value is not null).Select(Upper).Order());
        static string Upper(KeyValuePair<string, string?> pair) => $"{pair.Key}={pair.Value}".ToUpperInvariant();
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task The_tool_serves_in_the_generic_host_until_asked_to_stop()
    {
        var stop = new TaskCompletionSource();
        var stopping = false;
        using var host = CliHost.Build(Configuration(("Sockeye:Endpoints:Main:Url", "tcp://127.0.0.1:0")), _ => new EchoHandler(), _ => { });
        var running = CliHost.RunAsync(host, stop.Task, () => stopping = true, CancellationToken.None);

        var endPoint = await WaitForEndPointAsync(host);
        using (var client = await TestClient.ConnectAsync(endPoint))
        {
            await client.SendAsync("ping");
            client.HalfClose();
            Assert.Equal("ping", await client.ReceiveTextToEndAsync());
        }

        Assert.False(running.IsCompleted);
        stop.SetResult();
        await running.WithTestTimeout();
        Assert.True(stopping);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_port_in_use_or_bad_settings_are_one_line_errors()
    {
        using var occupant = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        occupant.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        occupant.Listen();
        var url = $"tcp://{occupant.LocalEndPoint}";
        var logs = new RecordingLoggerProvider();
        using var inUse = CliHost.Build(Configuration(("Sockeye:Endpoints:Main:Url", url)), _ => new EchoHandler(), logging => logging.AddProvider(logs));
        using var badSetting = CliHost.Build(Configuration(("Sockeye:Endpoints:Main:Url", url), ("Sockeye:Backlog", "0")), _ => new EchoHandler(), _ => { });

        var portError = await Assert.ThrowsAsync<CliException>(() => CliHost.RunAsync(inUse, Task.CompletedTask, () => { }, CancellationToken.None));
        var settingError = await Assert.ThrowsAsync<CliException>(() => CliHost.RunAsync(badSetting, Task.CompletedTask, () => { }, CancellationToken.None));

        Assert.Equal(($"Address {occupant.LocalEndPoint} is already in use.", ExitCodes.Failure), (portError.Message, portError.ExitCode));
        Assert.Equal(("Sockeye:Backlog must be greater than zero. It is 0.", ExitCodes.Usage), (settingError.Message, settingError.ExitCode));
        Assert.DoesNotContain(logs.Records, record => record.Level >= LogLevel.Warning);
    }

    private static async Task<EndPoint> WaitForEndPointAsync(IHost host)
    {
        var started = new TaskCompletionSource();
        using (host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStarted.Register(started.SetResult))
        {
            await started.Task.WithTestTimeout();
        }

        return host.Services.GetRequiredService<SocketServer>().EndPoints[0];
    }

    private static (Option<string> Option, ConfigBinding<string> Binding) HandlerBinding()
    {
        var option = new Option<string>("--handler") { DefaultValueFactory = _ => "print" }.AcceptOnlyFromAmong("print", "echo");
        return (option, new ConfigBinding<string>(option, "Sockeye:Serve:Handler", value => value));
    }

    private static SocketServerOptions Bind(CliConfiguration configuration) => Bind(configuration.ForServer("tcp://localhost:11000"));

    private static SocketServerOptions Bind(IConfiguration configuration)
    {
        var options = new SocketServerOptions();
        SockeyeConfiguration.Bind(configuration.GetSection(SockeyeConfiguration.SectionName), options);
        return options;
    }

    private static IConfiguration Configuration(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(pair => new KeyValuePair<string, string?>(pair.Key, pair.Value))).Build();

    private static Dictionary<string, string> Empty() => [];

    private static Dictionary<string, string?> Flags(params (string Key, string Value)[] values) =>
        values.ToDictionary(pair => pair.Key, pair => (string?)pair.Value);

    private string WriteFile(string json)
    {
        var path = Path.Combine(_folder, $"{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }
}
