using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using Sockeye.Framing;

namespace Sockeye.Cli;

/// <summary>
/// <c>sockeye send</c>: the companion client. Sends a message and prints the server's reply; with a framing, sends
/// it as many times as asked and prints each reply.
/// </summary>
internal static class SendCommand
{
    public const string DefaultMessage = "This is a test<EOF>";

    // Without a framing the reply is everything the server sends until it closes, held whole to be printed: a
    // server that never stops talking must not exhaust memory. Framed replies are held to the same bound.
    private const long MaxResponseSize = 64 * 1024 * 1024;

    public static Command Create()
    {
        var host = new Option<string>("--host")
        {
            Description = "The server's host name or address.",
            DefaultValueFactory = _ => "localhost",
            HelpName = "HOST",
        }.NotBlank("a host name or address");
        var port = CommonOptions.Port("The server's port.");
        var halfClose = new Option<bool>("--half-close")
        {
            Description = "End the sending side after the message(s), as the print handler expects; then print every reply until the server closes.",
        };
        var framing = FramingOptions.Framing("How the message and the replies are framed.");
        var delimiter = FramingOptions.DelimiterText("The text that ends each message and reply with --framing delimiter.");
        var count = CommonOptions.WholeNumber(
            "--count", "Send the message N times. With a framing, each reply is awaited and printed before the next send.", 1, minimum: 1, alias: "-n");
        var timeout = CommonOptions.Seconds("--timeout", "How long to wait to connect, and for each reply.", 10, ZeroSeconds.Off);
        var message = new Argument<string?>("MESSAGE")
        {
            Description = $"What to send, as UTF-8 text; '-' sends standard input. '{DefaultMessage}' by default, without '<EOF>' with a framing.",
            DefaultValueFactory = _ => null,
        };

        message.Validators.Add(result =>
        {
            // An unknown option would otherwise be sent as the message. Text that starts with '-' goes after '--'.
            var text = result.GetValueOrDefault<string?>() ?? string.Empty;
            if (text.Length > 1 && text[0] == '-' && !result.Tokens.Any(token => token.Value == "--") && !Environment.GetCommandLineArgs().Contains("--"))
            {
                result.AddError($"Unrecognized option '{text}'; to send text that starts with '-', put it after '--'.");
            }
        });

        var command = new Command("send", "Connect, send a message, and print what the server sends back.")
        {
            host, port, halfClose, framing, delimiter, count, timeout, message,
        };
        var tls = new SendTls();
        tls.AddTo(command);
        command.SetAction((parse, cancellationToken) =>
        {
            var framingName = parse.GetValue(framing)!;
            var framer = FramingOptions.Create(framingName, parse.GetValue(delimiter)!);
            var request = new Request(
                parse.GetValue(host)!,
                parse.GetValue(port),
                framingName,
                framer,
                parse.GetValue(message) ?? (framer is null ? DefaultMessage : DefaultMessage[..^DelimiterFramer.DefaultDelimiter.Length]),
                parse.GetValue(count),
                parse.GetValue(halfClose),
                parse.GetValue(timeout) is var seconds && seconds > 0 ? TimeSpan.FromSeconds(seconds) : Timeout.InfiniteTimeSpan,
                tls.Read(parse));
            return RunAsync(request, cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(Request request, CancellationToken cancellationToken)
    {
        var payload = request.Message == "-" ? await ReadStandardInputAsync(cancellationToken) : Encoding.UTF8.GetBytes(request.Message);
        if (request.Framer is { } framer && !CanFrame(framer, payload))
        {
            throw new CliException($"The message cannot be sent with --framing {request.Framing}: it holds what would end it.", ExitCodes.Usage);
        }

        await using var client = await ConnectAsync(request, cancellationToken);
        await Console.Error.WriteLineAsync($"Socket connected to {client.RemoteEndPoint}");
        try
        {
            await ExchangeAsync(client, request, payload, cancellationToken);
        }
        catch (IOException ex) when (ex.InnerException is SocketException socketError)
        {
            throw ConnectionFailed(request, socketError);
        }
        catch (SocketException ex)
        {
            throw ConnectionFailed(request, ex);
        }
        catch (ProtocolException ex) when (ex.EndReason == ConnectionEndReason.MessageTooLarge)
        {
            throw new CliException($"The response exceeds {MaxResponseSize / (1024 * 1024)} MiB; stopped reading.");
        }
        catch (ProtocolException)
        {
            throw new CliException($"{request.Server} closed the connection in the middle of a reply.");
        }

        return ExitCodes.Success;
    }

    private static async Task ExchangeAsync(SocketClient client, Request request, byte[] payload, CancellationToken cancellationToken)
    {
        var framed = request.Framer is not null;
        for (var i = 0; i < request.Count; i++)
        {
            await client.SendAsync(payload, cancellationToken);
            await Console.Error.WriteLineAsync($"Sent {payload.Length} bytes to server.");
            if (framed && !request.HalfClose)
            {
                var reply = await ReceiveAsync(client, request, cancellationToken, NoReplyPerMessage)
                    ?? throw new CliException($"{request.Server} closed the connection before replying.");
                await PrintAsync(reply);
            }
        }

        if (!framed)
        {
            // Unframed, the reply is everything the server sends until it closes.
            if (request.HalfClose)
            {
                await client.CompleteSendingAsync(cancellationToken);
            }

            await PrintAsync(await ReceiveAsync(client, request, cancellationToken, request.HalfClose ? null : NoReplyBeforeTheEnd) ?? []);
            return;
        }

        // Done sending: say so, and print what else the server sends until it closes too.
        await client.CompleteSendingAsync(cancellationToken);
        while (await ReceiveAsync(client, request, cancellationToken) is { } reply)
        {
            await PrintAsync(reply);
        }
    }

    private static async Task<SocketClient> ConnectAsync(Request request, CancellationToken cancellationToken)
    {
        var options = new SocketClientOptions
        {
            ConnectTimeout = request.Timeout,
            Framer = request.Framer ?? new WholeStreamFramer(),
            MaxMessageSize = MaxResponseSize,
            Tls = request.Tls?.Options,
        };
        try
        {
            return await SocketClient.ConnectAsync(new DnsEndPoint(request.Host, request.Port), options, cancellationToken);
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData or SocketError.NoRecovery)
        {
            throw new CliException($"Cannot resolve host '{request.Host}'.");
        }
        catch (SocketException ex)
        {
            throw new CliException(ex.SocketErrorCode == SocketError.ConnectionRefused
                ? $"Connection refused by {request.Server}; is the server running?"
                : $"Cannot connect to {request.Server}: {ex.Message}");
        }
        catch (TimeoutException)
        {
            throw new CliException($"Timed out connecting to {request.Server} after {Seconds(request.Timeout)} s.");
        }
        catch (AuthenticationException ex) when (request.Tls is { } tls)
        {
            throw tls.Explain(ex, request.Server, request.Host, Seconds(request.Timeout));
        }
    }

    /// <summary>Why a server may not answer a client that has not ended its side: the seed's print handler waits for the end.</summary>
    private const string NoReplyBeforeTheEnd =
        "The server may be waiting for the end of the stream: try --half-close, or run the server with --handler eof-echo.";

    /// <summary>Why a server may not answer each framed message: the print handler never replies.</summary>
    private const string NoReplyPerMessage =
        "The server may not answer each message: try --half-close, to end the stream and print whatever it sends back.";

    /// <summary>The next reply, within the timeout; <paramref name="hint"/> (what to try when the server may be waiting for the client) goes in the error when none comes.</summary>
    private static async Task<byte[]?> ReceiveAsync(SocketClient client, Request request, CancellationToken cancellationToken, string? hint = null)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(request.Timeout);
        try
        {
            return await client.ReceiveAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new CliException(hint is null
                ? $"Timed out after {Seconds(request.Timeout)} s waiting for {request.Server} to reply."
                : $"No reply from {request.Server} within {Seconds(request.Timeout)} s. {hint}");
        }
    }

    private static Task PrintAsync(byte[] reply) => Console.Out.WriteLineAsync($"Response received : {Encoding.UTF8.GetString(reply)}");

    private static CliException ConnectionFailed(Request request, SocketException error) =>
        new(error.SocketErrorCode == SocketError.ConnectionReset
            ? $"{request.Server} reset the connection."
            : $"The connection to {request.Server} failed: {error.Message}");

    private static bool CanFrame(MessageFramer framer, byte[] payload)
    {
        try
        {
            framer.WriteMessage(payload, new System.Buffers.ArrayBufferWriter<byte>());
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static string Seconds(TimeSpan timeout) => timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);

    private static async Task<byte[]> ReadStandardInputAsync(CancellationToken cancellationToken)
    {
        using var input = Console.OpenStandardInput();
        using var buffer = new MemoryStream();
        await input.CopyToAsync(buffer, cancellationToken);
        return buffer.ToArray();
    }

    private sealed record Request(
        string Host, int Port, string Framing, MessageFramer? Framer, string Message, int Count, bool HalfClose, TimeSpan Timeout, SendTls.Check? Tls)
    {
        public string Server => $"{Host}:{Port}";
    }
}
