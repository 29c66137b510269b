using Sockeye.Framing;

namespace Sockeye.Handlers;

/// <summary>
/// The seed's server: reports each message the client sends (<c>Read {N} bytes from socket.</c> and
/// <c> Data : {text}</c>). Without a framer the message is everything the client sends until it ends its side,
/// as in the seed; with one, each message is reported as it arrives.
/// </summary>
public sealed class PrintHandler : ConnectionHandler
{
    private static readonly WholeStreamFramer s_wholeStream = new();

    private readonly HandlerOutput _output;
    private readonly MessageFramer _framer;

    /// <summary>Creates the seed's handler: one message, ended by the client ending its side.</summary>
    /// <param name="output">Where to report.</param>
    public PrintHandler(HandlerOutput output)
        : this(output, s_wholeStream)
    {
    }

    /// <summary>Creates a handler that reports each message framed by <paramref name="framer"/>.</summary>
    /// <param name="output">Where to report.</param>
    /// <param name="framer">The message format.</param>
    public PrintHandler(HandlerOutput output, MessageFramer framer)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(framer);
        _output = output;
        _framer = framer;
    }

    /// <inheritdoc />
    public override async Task OnConnectedAsync(Connection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        try
        {
            await foreach (var message in connection.ReadMessagesAsync(_framer).ConfigureAwait(false))
            {
                await _output.MessageReceivedAsync(connection, message).ConfigureAwait(false);
            }
        }
        catch (ProtocolException)
        {
            // A message too large, or a frame cut short: the reader has ended the connection with that reason,
            // which its end line reports. There is nothing to print for it.
        }
    }
}
