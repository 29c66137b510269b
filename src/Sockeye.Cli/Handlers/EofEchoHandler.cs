using System.Buffers;
using Sockeye.Framing;

namespace Sockeye.Cli.Handlers;

/// <summary>
/// The companion echo server: reads until the delimiter (<c>&lt;EOF&gt;</c> by default), reports the message,
/// sends it back (delimiter included), reports <c>Sent {N} bytes to client.</c>, and closes. One message per
/// connection. A client that ends its side before the delimiter has what it sent reported, and is closed.
/// </summary>
/// <remarks>
/// Nothing that arrived is lost: when the connection ends otherwise before the delimiter (a reset, the idle timeout,
/// the minimum data rate, a message over the maximum, a stop that timed out), what arrived of the message is reported
/// as <c>print</c> reports it, and nothing is echoed.
/// </remarks>
internal sealed class EofEchoHandler : ConnectionHandler
{
    /// <summary>The companion's delimiter.</summary>
    public const string DefaultDelimiter = DelimiterFramer.DefaultDelimiter;

    private readonly HandlerOutput _output;
    private readonly DelimiterFramer _framer;

    /// <summary>Creates the handler.</summary>
    /// <param name="output">Where to report.</param>
    /// <param name="delimiter">The text that ends a message, encoded as UTF-8.</param>
    public EofEchoHandler(HandlerOutput output, string delimiter = DefaultDelimiter)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentException.ThrowIfNullOrEmpty(delimiter);
        _output = output;
        _framer = new DelimiterFramer(delimiter);
    }

    /// <inheritdoc />
    public override async Task OnConnectedAsync(Connection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        using var copy = new UnfinishedFrameCopy(_framer);
        try
        {
            await foreach (var (text, isWholeFrame) in connection.ReadMessagesAsync(new CompanionReader(copy)).ConfigureAwait(false))
            {
                // The companion reports and counts the whole text it read, delimiter included.
                await _output.MessageReceivedAsync(connection, text).ConfigureAwait(false);
                if (isWholeFrame)
                {
                    await EchoAsync(connection, text).ConfigureAwait(false);
                }

                // Otherwise the client ended before the delimiter: what arrived is reported, and the connection closed
                // (the docs' server leaks this socket). Either way, one message per connection.
                return;
            }

            return;
        }
        catch (ProtocolException)
        {
            // The message was too large: the reader has aborted the connection, and its end line says why.
        }
        catch (Exception ex) when (ex is ConnectionResetException or ConnectionAbortedException)
        {
            // The connection ended under the read (a reset, a timeout, a stop that timed out), which recorded why.
        }

        await copy.ReportAsync(_output, connection).ConfigureAwait(false);
    }

    private async Task EchoAsync(Connection connection, ReadOnlySequence<byte> frame)
    {
        var output = connection.Transport.Output;
        foreach (var segment in frame)
        {
            output.Write(segment.Span);
        }

        var flushed = await output.FlushAsync().ConfigureAwait(false);
        if (!flushed.IsCompleted)
        {
            await _output.MessageSentAsync(connection, frame.Length).ConfigureAwait(false);
        }
    }

    /// <summary>What the companion reads: the text of one frame, delimiter included, or what came before the client ended its side without one.</summary>
    private readonly record struct CompanionText(ReadOnlySequence<byte> Text, bool IsWholeFrame);

    /// <summary>
    /// The companion's view of a delimited stream: a message is a whole frame, delimiter included, and what is left
    /// when the client ends its side without a delimiter is a last message of its own rather than a truncated frame
    /// (the client simply closed; the connection ends as <see cref="ConnectionEndReason.ClientClosed"/>). The delimiter
    /// framer keeps the maximum message size, delimiter excluded, as it does for every framed message.
    /// </summary>
    /// <remarks>
    /// One per connection: its framer is the connection's <see cref="UnfinishedFrameCopy"/>, which keeps what arrived of
    /// the frame for when the connection ends otherwise.
    /// </remarks>
    private sealed class CompanionReader(MessageFramer framer) : IMessageReader<CompanionText>
    {
        public bool TryParseMessage(
            in ReadOnlySequence<byte> input,
            long maxMessageSize,
            ref SequencePosition consumed,
            ref SequencePosition examined,
            out CompanionText message)
        {
            if (!framer.TryParseMessage(input, maxMessageSize, ref consumed, ref examined, out _))
            {
                message = default;
                return false;
            }

            message = new CompanionText(input.Slice(input.Start, consumed), IsWholeFrame: true);
            return true;
        }

        public bool TryParseFinalMessage(in ReadOnlySequence<byte> input, long maxMessageSize, out CompanionText message)
        {
            if (input.Length > maxMessageSize)
            {
                throw new ProtocolException($"A message is larger than the maximum of {maxMessageSize} bytes.", ConnectionEndReason.MessageTooLarge);
            }

            message = new CompanionText(input, IsWholeFrame: false);
            return true;
        }
    }
}
