using System.Buffers;
using System.CommandLine;
using System.IO.Pipelines;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using Sockeye.Cli.Bench;
using Sockeye.Framing;

namespace Sockeye.Cli;

/// <summary>
/// <c>sockeye send</c>: the companion client. Sends a message and prints the server's reply; with a framing, sends
/// it as many times as asked and prints each reply.
/// </summary>
internal static class SendCommand
{
    public const string DefaultMessage = "This is a test<EOF>";

    // Without a framing the reply is everything the server sends until it closes, printed as it arrives: a server
    // that never stops talking is not read for ever. Framed replies, each held whole, are held to the same bound.
    private const long MaxResponseSize = 64 * 1024 * 1024;

    // A framed message read from standard input is held whole to be framed: bounded like a reply.
    private const long MaxMessageFromInput = MaxResponseSize;

    // A process whose reader is gone exits as SIGPIPE would have ended it: 128 + 13.
    private const int OutputClosedExitCode = 141;

    // What is handed to the socket at a time; each chunk must be taken within --timeout.
    private const int SendChunkSize = 64 * 1024;

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
            Description = "End the sending side after the message(s), as the print handler expects; then print what the server sends back: without a framing, everything until it closes; with one, a reply per message sent.",
        };
        var framing = FramingOptions.Framing("How the message and the replies are framed.");
        var delimiter = FramingOptions.DelimiterText("The text that ends each message and reply with --framing delimiter.");
        var count = CommonOptions.WholeNumber(
            "--count", "Send the message N times. With a framing, one reply is read per message: each is awaited and printed before the next send (all after the last with --half-close), then send closes.", 1, minimum: 1, alias: "-n");
        var timeout = CommonOptions.Seconds("--timeout", "How long to wait to connect, and for the server to take more of the message or send more of a reply.", 10, ZeroSeconds.Off);
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
        var fromStandardInput = request.Message == "-";
        using var input = fromStandardInput ? StandardInput.Open() : null;
        byte[]? payload = null;
        byte[]? framed = null;
        if (request.Framer is { } framer)
        {
            // A framed message is framed whole (a length prefix comes first), so standard input is read first, bounded.
            payload = input is null ? Encoding.UTF8.GetBytes(request.Message) : await StandardInput.ReadAllAsync(input, MaxMessageFromInput, cancellationToken);
            framed = Frame(framer, payload) ?? throw new CliException(
                $"The message cannot be sent with --framing {request.Framing}: it holds what would end it.", ExitCodes.Usage);
        }
        else if (input is null)
        {
            payload = Encoding.UTF8.GetBytes(request.Message);
        }
        else if (request.Count > 1)
        {
            throw new CliException("--count cannot repeat '-' without a framing: standard input is streamed to the server once.", ExitCodes.Usage);
        }

        var output = new ReplyOutput();
        await using var client = await ConnectAsync(request, cancellationToken);
        await Console.Error.WriteLineAsync($"Socket connected to {client.RemoteEndPoint}");
        try
        {
            if (request.Framer is null)
            {
                await ExchangeUnframedAsync(client, request, payload, input, output, cancellationToken);
            }
            else
            {
                await ExchangeFramedAsync(client, request, payload!.Length, framed!, output, cancellationToken);
            }
        }
        catch (StandardOutputClosedException)
        {
            // Whoever read the replies is gone (`send ... | head`): stop quietly, as a process killed by SIGPIPE would.
            return OutputClosedExitCode;
        }
        catch (IOException) when (client.TlsEndedWithoutCloseNotify)
        {
            // A framed reply cut in the middle of a TLS record.
            throw TlsCutShort(request);
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

    /// <summary>
    /// With a framing: each request is answered by one reply. Without --half-close each reply is awaited and printed
    /// before the next request; with it, all requests go first, then the sending side ends and up to as many replies
    /// as requests are printed (fewer if the server closes first). Then the connection is closed: a server that keeps
    /// sending is not read for ever.
    /// </summary>
    private static async Task ExchangeFramedAsync(
        SocketClient client, Request request, int messageSize, byte[] framed, ReplyOutput output, CancellationToken cancellationToken)
    {
        for (var i = 0; i < request.Count; i++)
        {
            await WriteAsync(client, request, framed, cancellationToken);
            await Console.Error.WriteLineAsync($"Sent {messageSize} bytes to server.");
            if (!request.HalfClose)
            {
                var reply = await ReceiveAsync(client, request, cancellationToken, NoReplyPerMessage)
                    ?? throw new CliException($"{request.Server} closed the connection before replying.");
                output.Print(reply);
            }
        }

        if (request.HalfClose)
        {
            await client.CompleteSendingAsync(cancellationToken);
            for (var i = 0; i < request.Count && await ReceiveAsync(client, request, cancellationToken) is { } reply; i++)
            {
                output.Print(reply);
            }
        }
    }

    /// <summary>
    /// Without a framing the reply is everything the server sends until it closes, printed as it arrives. What arrived
    /// is printed whatever ends the exchange (a reset, no byte for --timeout, a failed send), before the error.
    /// </summary>
    private static async Task ExchangeUnframedAsync(
        SocketClient client, Request request, byte[]? payload, Stream? input, ReplyOutput output, CancellationToken cancellationToken)
    {
        Exception? sendFailure = null;
        try
        {
            if (input is not null)
            {
                var sent = await StreamAsync(client, request, input, cancellationToken);
                await Console.Error.WriteLineAsync($"Sent {sent} bytes to server.");
            }
            else
            {
                for (var i = 0; i < request.Count; i++)
                {
                    await WriteAsync(client, request, payload!, cancellationToken);
                    await Console.Error.WriteLineAsync($"Sent {payload!.Length} bytes to server.");
                }
            }

            if (request.HalfClose)
            {
                await client.CompleteSendingAsync(cancellationToken);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException)
        {
            // The server may have replied before it failed the send (an error, then a reset): read that first.
            sendFailure = ex;
        }

        var (received, failure) = await ReceiveWholeStreamAsync(client, request, output, request.HalfClose || sendFailure is not null ? null : NoReplyBeforeTheEnd, cancellationToken);
        if (failure is null || received > 0)
        {
            output.EndReply();
        }

        if (sendFailure is not null)
        {
            throw sendFailure;
        }

        if (failure is not null)
        {
            throw failure;
        }
    }

    /// <summary>
    /// Reads until the server closes, a failure, no byte for --timeout, or the maximum, printing what arrives as it
    /// does (so that memory holds a part of the reply, not all of it); returns how many bytes arrived and why reading
    /// stopped early (<see langword="null"/> when the server closed, with TLS's close_notify when over TLS).
    /// </summary>
    private static async Task<(long Received, Exception? Failure)> ReceiveWholeStreamAsync(
        SocketClient client, Request request, ReplyOutput output, string? hint, CancellationToken cancellationToken)
    {
        long received = 0;
        var reader = client.Transport.Input;
        while (true)
        {
            ReadResult result;
            using (var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                idle.CancelAfter(request.Timeout);
                try
                {
                    result = await reader.ReadAsync(idle.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    return (received, received > 0
                        ? new CliException($"{request.Server} sent nothing more for {Seconds(request.Timeout)} s and did not close; stopped waiting.")
                        : NoReply(request, hint));
                }
                catch (IOException) when (client.TlsEndedWithoutCloseNotify)
                {
                    // In the middle of a TLS record.
                    return (received, TlsCutShort(request));
                }
                catch (IOException ex) when (ex.InnerException is SocketException socketError)
                {
                    return (received, ConnectionFailed(request, socketError));
                }
                catch (SocketException ex)
                {
                    return (received, ConnectionFailed(request, ex));
                }
            }

            var buffer = result.Buffer;
            var room = MaxResponseSize - received;
            var tooLarge = buffer.Length > room;
            output.PrintPart(tooLarge ? buffer.Slice(0, room) : buffer);
            received += Math.Min(buffer.Length, room);
            reader.AdvanceTo(buffer.End);
            if (tooLarge)
            {
                return (received, new CliException($"The response exceeds {MaxResponseSize / (1024 * 1024)} MiB; stopped reading."));
            }

            if (result.IsCompleted)
            {
                // Without TLS's own end, the end of the TCP stream does not say the reply is whole.
                return (received, client.TlsEndedWithoutCloseNotify ? TlsCutShort(request) : null);
            }
        }
    }

    /// <summary>Sends <paramref name="bytes"/> in chunks, each of which must be taken within --timeout.</summary>
    private static async Task WriteAsync(SocketClient client, Request request, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        while (!bytes.IsEmpty)
        {
            var chunk = bytes[..Math.Min(bytes.Length, SendChunkSize)];
            await WriteChunkAsync(client, request, chunk, cancellationToken);
            bytes = bytes[chunk.Length..];
        }
    }

    /// <summary>Streams <paramref name="input"/> to the server in chunks, with no more than one chunk in memory; returns how many bytes were sent.</summary>
    private static async Task<long> StreamAsync(SocketClient client, Request request, Stream input, CancellationToken cancellationToken)
    {
        var buffer = new byte[SendChunkSize];
        long sent = 0;
        int read;
        while ((read = await input.ReadAsync(buffer, cancellationToken)) > 0)
        {
            await WriteChunkAsync(client, request, buffer.AsMemory(0, read), cancellationToken);
            sent += read;
        }

        return sent;
    }

    private static async Task WriteChunkAsync(SocketClient client, Request request, ReadOnlyMemory<byte> chunk, CancellationToken cancellationToken)
    {
        var writer = client.Transport.Output;
        writer.Write(chunk.Span);
        using var stalled = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stalled.CancelAfter(request.Timeout);
        try
        {
            if ((await writer.FlushAsync(stalled.Token)).IsCanceled)
            {
                throw new OperationCanceledException(stalled.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new CliException($"{request.Server} took no more of the message for {Seconds(request.Timeout)} s: it is not reading. Stopped sending.");
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

    /// <summary>
    /// The next reply, as long as the server sends some of it every --timeout (as without a framing: a slow reply that
    /// keeps coming is awaited); <paramref name="hint"/> (what to try when the server may be waiting for the client)
    /// goes in the error when it stops.
    /// </summary>
    private static async Task<byte[]?> ReceiveAsync(SocketClient client, Request request, CancellationToken cancellationToken, string? hint = null)
    {
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        idle.CancelAfter(request.Timeout);
        var progress = new ProgressReader(request.Framer!, () => idle.CancelAfter(request.Timeout));
        var replies = client.ReadMessagesAsync(progress, idle.Token).GetAsyncEnumerator();
        try
        {
            return await replies.MoveNextAsync() ? replies.Current.ToArray() : null;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Part of a reply came, but not its end: saying "no reply" would send the user looking in the wrong place.
            throw progress.Unfinished > 0
                ? new CliException($"{request.Server} sent {progress.Unfinished} byte(s) of a reply but not its end ({request.Framing} framing), then nothing for {Seconds(request.Timeout)} s; stopped waiting.")
                : NoReply(request, hint);
        }
        finally
        {
            await replies.DisposeAsync();
        }
    }

    private static CliException NoReply(Request request, string? hint) =>
        new(hint is null
            ? $"Timed out after {Seconds(request.Timeout)} s waiting for {request.Server} to reply."
            : $"No reply from {request.Server} within {Seconds(request.Timeout)} s. {hint}");

    /// <summary>The server's side of a TLS connection ended without a close_notify: the TCP connection just closed.</summary>
    private static CliException TlsCutShort(Request request) =>
        new($"{request.Server} ended the TLS connection without a close_notify: the reply may be truncated.");

    private static CliException ConnectionFailed(Request request, SocketException error) =>
        new(error.SocketErrorCode == SocketError.ConnectionReset
            ? $"{request.Server} reset the connection."
            : $"The connection to {request.Server} failed: {error.Message}");

    /// <summary>The message as it goes on the wire; <see langword="null"/> when the framing cannot carry it.</summary>
    private static byte[]? Frame(MessageFramer framer, byte[] payload)
    {
        var framed = new ArrayBufferWriter<byte>();
        try
        {
            framer.WriteMessage(payload, framed);
            return framed.WrittenSpan.ToArray();
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    private static string Seconds(TimeSpan timeout) => timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);

    /// <summary>A framer that reports each arrival of bytes it is asked to parse: the reply is still coming.</summary>
    private sealed class ProgressReader(MessageFramer framer, Action progress) : IMessageReader<ReadOnlySequence<byte>>
    {
        private long _seen = -1;

        public long? MaxMessageSize => framer.MaxMessageSize;

        /// <summary>The bytes of a reply that has begun and not ended yet.</summary>
        public long Unfinished => Math.Max(_seen, 0);

        public bool TryParseMessage(
            in ReadOnlySequence<byte> input, long maxMessageSize, ref SequencePosition consumed, ref SequencePosition examined, out ReadOnlySequence<byte> message)
        {
            if (input.Length > _seen)
            {
                progress();
            }

            var found = framer.TryParseMessage(input, maxMessageSize, ref consumed, ref examined, out message);
            _seen = found ? -1 : input.Length;
            return found;
        }

        public bool TryParseFinalMessage(in ReadOnlySequence<byte> input, long maxMessageSize, out ReadOnlySequence<byte> message) =>
            framer.TryParseFinalMessage(input, maxMessageSize, out message);
    }

    private sealed record Request(
        string Host, int Port, string Framing, MessageFramer? Framer, string Message, int Count, bool HalfClose, TimeSpan Timeout, SendTls.Check? Tls)
    {
        public string Server => HostAndPort.Format(Host, Port);
    }
}
