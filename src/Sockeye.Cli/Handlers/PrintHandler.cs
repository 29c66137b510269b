using Sockeye.Framing;

namespace Sockeye.Cli.Handlers;

/// <summary>
/// The seed's server: reports each message the client sends (<c>Read {N} bytes from socket.</c> and
/// <c> Data : {text}</c>). Without a framer the message is everything the client sends until it ends its side,
/// as in the seed; with one, each message is reported as it arrives.
/// </summary>
/// <remarks>
/// Nothing that arrived is lost: when the connection ends before the client has finished (a reset, the idle timeout,
/// the minimum data rate for a framed message, a message over the maximum, a stop that timed out), what arrived of
/// the unfinished message is reported all the same. Without a framer only the idle timeout applies: a person typing
/// into <c>nc</c> may pause as long as they like within it. What is reported is lost only when the output takes
/// nothing at the stop (<see cref="HandlerOutput.CloseAsync"/>), which the tool says in a warning.
/// </remarks>
internal sealed class PrintHandler : ConnectionHandler
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
        using var copy = new UnfinishedFrameCopy(_framer);
        try
        {
            await foreach (var message in connection.ReadMessagesAsync(copy).ConfigureAwait(false))
            {
                await _output.MessageReceivedAsync(connection, message).ConfigureAwait(false);
            }

            return;
        }
        catch (ProtocolException)
        {
            // A message too large, or a frame cut short: the reader has ended the connection with that reason.
        }
        catch (Exception ex) when (ex is ConnectionResetException or ConnectionAbortedException)
        {
            // The connection ended under the read (a reset, a timeout, a stop that timed out), which recorded why.
        }

        await copy.ReportAsync(_output, connection).ConfigureAwait(false);
    }
}
