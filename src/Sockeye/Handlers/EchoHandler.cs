using Sockeye.Framing;

namespace Sockeye.Handlers;

/// <summary>
/// Sends back what the client sends: every byte as it arrives, or, with a framer, each message, framed the same
/// way, on a connection that stays open until the client ends its side.
/// </summary>
/// <remarks>
/// With a framer, replies to messages that arrived together are sent together, and a graceful stop ends the
/// connection between two messages. A raw byte stream has no message boundaries, so without a framer a graceful
/// stop cannot tell an idle client from one in the middle of a transfer: the handler serves until the client
/// closes or the shutdown timeout aborts it.
/// </remarks>
public sealed class EchoHandler : ConnectionHandler
{
    private readonly MessageFramer? _framer;

    /// <summary>Creates a handler that echoes every byte as it arrives.</summary>
    public EchoHandler()
    {
    }

    /// <summary>Creates a handler that echoes each message framed by <paramref name="framer"/>.</summary>
    /// <param name="framer">The message format, for reading and for writing.</param>
    public EchoHandler(MessageFramer framer)
    {
        ArgumentNullException.ThrowIfNull(framer);
        _framer = framer;
    }

    /// <inheritdoc />
    public override Task OnConnectedAsync(Connection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return _framer is null ? EchoBytesAsync(connection) : EchoMessagesAsync(connection, _framer);
    }

    private static async Task EchoMessagesAsync(Connection connection, MessageFramer framer)
    {
        var output = connection.Transport.Output;

        // Replies are queued, not flushed one by one: the reader flushes them when it runs out of buffered
        // messages and must wait, so a burst of pipelined messages is answered in one send.
        var reader = MessageReader.Create(connection, framer, flushBeforeWaiting: output);
        try
        {
            while (await reader.MoveNextAsync().ConfigureAwait(false))
            {
                connection.WriteMessage(framer, reader.Current);
            }
        }
        catch (ProtocolException error) when (error.EndReason == ConnectionEndReason.MessageTooLarge)
        {
            // The reader has aborted the connection; nothing more can be sent.
            return;
        }
        catch (ProtocolException)
        {
            // The client ended the stream in the middle of a frame; the reader has recorded it as the end reason.
            // The replies to its whole messages still go out below.
        }
        finally
        {
            await reader.DisposeAsync().ConfigureAwait(false);
        }

        await output.FlushAsync().ConfigureAwait(false);
    }

    private static async Task EchoBytesAsync(Connection connection)
    {
        var input = connection.Transport.Input;
        var output = connection.Transport.Output;
        while (true)
        {
            var result = await input.ReadAsync().ConfigureAwait(false);
            var buffer = result.Buffer;
            if (!buffer.IsEmpty)
            {
                output.Write(buffer);
            }

            input.AdvanceTo(buffer.End);
            if (!buffer.IsEmpty && (await output.FlushAsync().ConfigureAwait(false)).IsCompleted)
            {
                return;
            }

            if (result.IsCompleted || result.IsCanceled)
            {
                return;
            }
        }
    }
}
