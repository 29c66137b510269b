using System.Buffers;
using Sockeye.Framing;

namespace Sockeye.Handlers;

/// <summary>
/// The companion echo server: reads until the delimiter (<c>&lt;EOF&gt;</c> by default), reports the message,
/// sends it back (delimiter included), reports <c>Sent {N} bytes to client.</c>, and closes. One message per
/// connection. A client that ends its side before the delimiter has what it sent reported, and is closed.
/// </summary>
public sealed class EofEchoHandler : ConnectionHandler
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
        var reader = MessageReader<ReadOnlySequence<byte>>.Create(connection, _framer);
        try
        {
            switch (await reader.ReadAsync().ConfigureAwait(false))
            {
                case MessageReadStatus.Message:
                    await EchoAsync(connection, reader).ConfigureAwait(false);
                    break;
                case MessageReadStatus.Truncated:
                    // The client ended before the delimiter: report what arrived and close (the docs' server leaks this socket).
                    await _output.MessageReceivedAsync(connection, reader.CurrentFrame).ConfigureAwait(false);
                    break;
            }
        }
        catch (ProtocolException)
        {
            // The message was too large: the reader has aborted the connection, and its end line says why.
        }
        finally
        {
            await reader.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task EchoAsync(Connection connection, MessageReader<ReadOnlySequence<byte>> reader)
    {
        // The companion reports and counts the whole text it read, delimiter included.
        var frame = reader.CurrentFrame;
        await _output.MessageReceivedAsync(connection, frame).ConfigureAwait(false);
        connection.WriteMessage(_framer, reader.Current);
        var flushed = await connection.Transport.Output.FlushAsync().ConfigureAwait(false);
        if (!flushed.IsCompleted)
        {
            await _output.MessageSentAsync(connection, frame.Length).ConfigureAwait(false);
        }
    }
}
