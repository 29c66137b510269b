using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Sockeye.Cli;

/// <summary><c>sockeye send</c>: the companion client. Sends one message and prints the server's reply.</summary>
internal static class SendCommand
{
    public const string DefaultMessage = "This is a test<EOF>";

    private static readonly TimeSpan s_connectTimeout = TimeSpan.FromSeconds(10);

    // The reply is held in memory to be printed whole; a server that never stops talking must not exhaust it.
    private const int MaxResponseSize = 64 * 1024 * 1024;

    public static Command Create()
    {
        var host = new Option<string>("--host")
        {
            Description = "The server's host name or address.",
            DefaultValueFactory = _ => "localhost",
            HelpName = "HOST",
        };
        var port = CommonOptions.Port("The server's port.");
        var halfClose = new Option<bool>("--half-close")
        {
            Description = "End the sending side after the message, as the print handler expects.",
        };
        var message = new Argument<string>("MESSAGE")
        {
            Description = "What to send, as UTF-8 text; '-' sends standard input.",
            DefaultValueFactory = _ => DefaultMessage,
        };

        message.Validators.Add(result =>
        {
            // An unknown option would otherwise be sent as the message. Text that starts with '-' goes after '--'.
            var text = result.GetValueOrDefault<string>();
            if (text.Length > 1 && text[0] == '-' && !result.Tokens.Any(token => token.Value == "--") && !Environment.GetCommandLineArgs().Contains("--"))
            {
                result.AddError($"Unrecognized option '{text}'; to send text that starts with '-', put it after '--'.");
            }
        });

        var command = new Command("send", "Connect, send a message, and print what the server sends back until it closes.")
        {
            host, port, halfClose, message,
        };
        command.SetAction((parse, cancellationToken) => RunAsync(
            parse.GetValue(host)!, parse.GetValue(port), parse.GetValue(halfClose), parse.GetValue(message)!, cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(string host, int port, bool halfClose, string message, CancellationToken cancellationToken)
    {
        var payload = message == "-" ? await ReadStandardInputAsync(cancellationToken) : Encoding.UTF8.GetBytes(message);

        using var socket = await ConnectAsync(host, port, cancellationToken);
        await Console.Error.WriteLineAsync($"Socket connected to {socket.RemoteEndPoint}");
        try
        {
            await socket.SendAsync(payload, SocketFlags.None, cancellationToken);
            await Console.Error.WriteLineAsync($"Sent {payload.Length} bytes to server.");
            if (halfClose)
            {
                socket.Shutdown(SocketShutdown.Send);
            }

            var response = await ReceiveToEndAsync(socket, cancellationToken);
            await Console.Out.WriteLineAsync($"Response received : {Encoding.UTF8.GetString(response)}");
        }
        catch (SocketException ex)
        {
            throw new CliException(ex.SocketErrorCode == SocketError.ConnectionReset
                ? $"{host}:{port} reset the connection."
                : $"The connection to {host}:{port} failed: {ex.Message}");
        }

        return ExitCodes.Success;
    }

    private static async Task<Socket> ConnectAsync(string host, int port, CancellationToken cancellationToken)
    {
        IPAddress[] addresses;
        try
        {
            addresses = IPAddress.TryParse(host.AsSpan().Trim("[]"), out var literal)
                ? [literal]
                : await Dns.GetHostAddressesAsync(host, cancellationToken);
        }
        catch (SocketException)
        {
            throw new CliException($"Cannot resolve host '{host}'.");
        }

        if (addresses.Length == 0)
        {
            throw new CliException($"Cannot resolve host '{host}'.");
        }

        // Try each address in turn, as browsers and curl do: "localhost" may be ::1 or 127.0.0.1.
        SocketException? lastError = null;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(s_connectTimeout);
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, port), timeout.Token);
                return socket;
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                lastError = ex;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                socket.Dispose();
                throw new CliException($"Timed out connecting to {host}:{port} after {s_connectTimeout.TotalSeconds:0} s.");
            }
        }

        throw new CliException(lastError?.SocketErrorCode == SocketError.ConnectionRefused
            ? $"Connection refused by {host}:{port}; is the server running?"
            : $"Cannot connect to {host}:{port}: {lastError?.Message}");
    }

    private static async Task<byte[]> ReceiveToEndAsync(Socket socket, CancellationToken cancellationToken)
    {
        using var response = new MemoryStream();
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            if (read == 0)
            {
                return response.ToArray();
            }

            if (response.Length + read > MaxResponseSize)
            {
                throw new CliException($"The response exceeds {MaxResponseSize / (1024 * 1024)} MiB; stopped reading.");
            }

            response.Write(buffer, 0, read);
        }
    }

    private static async Task<byte[]> ReadStandardInputAsync(CancellationToken cancellationToken)
    {
        using var input = Console.OpenStandardInput();
        using var buffer = new MemoryStream();
        await input.CopyToAsync(buffer, cancellationToken);
        return buffer.ToArray();
    }
}
