using System.CommandLine;
using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;
using Sockeye.Framing;
using Sockeye.Handlers;

namespace Sockeye.Cli;

/// <summary><c>sockeye serve</c>: the seed's server and its companions, as built-in handlers.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var hosts = new Option<string[]>("--host")
        {
            Description = "An address to listen on; repeat for more. The default, localhost, is 127.0.0.1 and ::1. " +
                "Use 0.0.0.0 or :: to accept connections from other machines.",
            HelpName = "ADDR",
        };
        var port = CommonOptions.Port("The port to listen on; 0 picks a free one, shown in the 'Listening on' line.");
        var handler = new Option<string>("--handler")
        {
            Description = "print: the seed, prints what each client sent once it ends its side. " +
                "eof-echo: the companion, echoes one message ending in the delimiter. echo: sends every byte back, or with --framing each message.",
            DefaultValueFactory = _ => "print",
            HelpName = "NAME",
        }.AcceptOnlyFromAmong("print", "eof-echo", "echo");
        var delimiter = FramingOptions.DelimiterText("The text that ends a message for eof-echo and --framing delimiter.");
        var framing = FramingOptions.Framing("How print and echo find messages in what a client sends; eof-echo always uses --delimiter.");
        var maxMessageSize = CommonOptions.ByteSize(
            "--max-message-size", "The largest message a client may send; a client that sends more is disconnected.", MessageFramer.DefaultMaxMessageSize);
        var output = new Option<string>("--output")
        {
            Description = "How handlers report on standard output: text (the seed's lines) or jsonl (one JSON object per message).",
            DefaultValueFactory = _ => "text",
            HelpName = "FORMAT",
        }.AcceptOnlyFromAmong("text", "jsonl");
        var logLevel = CommonOptions.LogLevel();
        var listenerFlags = new ListenerFlags();

        var command = new Command("serve", "Run the server until Ctrl+C or SIGTERM, then stop gracefully.")
        {
            hosts, port, handler, delimiter, output, logLevel, framing, maxMessageSize,
        };
        var limits = new ServeLimits();
        limits.AddTo(command);
        listenerFlags.AddTo(command);
        var drainFlags = DrainFlags.AddTo(command);
        command.SetAction((parse, cancellationToken) => RunAsync(
            limits.Read(parse),
            parse.GetValue(hosts) ?? [],
            parse.GetValue(port),
            parse.GetValue(handler)!,
            parse.GetValue(delimiter)!,
            parse.GetValue(output)!,
            parse.GetValue(logLevel),
            parse.GetValue(framing)!,
            parse.GetValue(maxMessageSize),
            options => { listenerFlags.Apply(parse, options); drainFlags.Apply(parse, options); },
            listenerFlags.HasUnixSockets(parse)));
        return command;
    }

    private static async Task<int> RunAsync(
        Action<SocketServerOptions> applyLimits, string[] hosts, int port, string handlerName, string delimiter, string outputFormat, LogLevel logLevel,
        string framing, ByteSize maxMessageSize, Action<SocketServerOptions> applyListenerFlags, bool hasUnixSockets)
    {
        // The console format shows no scopes, and the server's own connection lines carry the id in their text: a scope
        // per connection would cost every connection memory for nothing.
        var options = new SocketServerOptions { MaxMessageSize = maxMessageSize.Bytes, ConnectionLogScope = false };
        applyLimits(options);
        if (hosts.Length > 0 || !hasUnixSockets)
        {
            AddListeners(options, hosts, port);
        }

        applyListenerFlags(options);
        var framer = FramingOptions.Create(framing, delimiter);
        if (handlerName == "eof-echo" && framing is not (FramingOptions.None or FramingOptions.Delimiter))
        {
            throw new CliException($"eof-echo reads one message ending in --delimiter; --framing {framing} is for print and echo.", ExitCodes.Usage);
        }

        using var signal = new ShutdownSignal();
        using var loggerFactory = ConsoleLogging.Create(logLevel);
        var logger = loggerFactory.CreateLogger("Sockeye.Cli");

        // Standard output is buffered and flushed by the handler output whenever its queue runs empty.
        var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false), 64 * 1024) { AutoFlush = false };
        await using var output = outputFormat == "jsonl" ? HandlerOutput.JsonLines(stdout) : HandlerOutput.Text(stdout);
        ConnectionHandler handler = handlerName switch
        {
            "eof-echo" => new EofEchoHandler(output, delimiter),
            "echo" => framer is null ? new EchoHandler() : new EchoHandler(framer),
            _ => framer is null ? new PrintHandler(output) : new PrintHandler(output, framer),
        };

        var server = new SocketServer(options, handler, loggerFactory);
        try
        {
            await server.StartAsync();
        }
        catch (IOException ex)
        {
            throw new CliException(ex.Message);
        }

        await signal.StopRequested;
        CliLog.ShuttingDown(logger);
        await server.StopAsync(signal.AbortRequested);
        return ExitCodes.Success;
    }

    private static void AddListeners(SocketServerOptions options, string[] hosts, int port)
    {
        if (hosts.Length == 0)
        {
            options.ListenLocalhost(port);
            return;
        }

        foreach (var host in hosts)
        {
            if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
            {
                options.ListenLocalhost(port);
            }
            else if (IPAddress.TryParse(host.AsSpan().Trim("[]"), out var address))
            {
                options.Listen(address, port);
            }
            else
            {
                throw new CliException(
                    $"--host '{host}' is not an IP address or localhost; use 0.0.0.0 or :: to listen on every address.",
                    ExitCodes.Usage);
            }
        }
    }
}
