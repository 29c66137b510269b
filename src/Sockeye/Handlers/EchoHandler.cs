using System.Buffers;
using System.IO.Pipelines;
using Sockeye.Framing;
using Sockeye.Messaging;
using Sockeye.Transport;

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
        if (_framer is not null)
        {
            return EchoMessagesAsync(connection, _framer);
        }

        var transport = connection.Transport;
        return transport.Input is ConnectionInput input && transport.Output is GuardedOutput output
            ? EchoBytesAsync(input, output)
            : EchoBytesAsync(transport);
    }

    private static async Task EchoMessagesAsync(Connection connection, MessageFramer framer)
    {
        var output = connection.Transport.Output;

        // Replies are queued, not flushed one by one: the reader flushes them when it runs out of buffered
        // messages and must wait, so a burst of pipelined messages is answered in one send.
        var reader = MessageReader<ReadOnlySequence<byte>>.Create(connection, framer, flushBeforeWaiting: output);
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

    private static async Task EchoBytesAsync(IDuplexPipe transport)
    {
        // Only the pipe pair and one flag live across the awaits: this state machine is most of what an idle echo
        // connection holds, so it keeps nothing else.
        while (true)
        {
            var echoed = Echo(transport.Input, transport.Output, await transport.Input.ReadAsync().ConfigureAwait(false), out var ended);
            if (echoed && (await transport.Output.FlushAsync().ConfigureAwait(false)).IsCompleted)
            {
                return;
            }

            if (ended)
            {
                return;
            }
        }
    }

    /// <summary>
    /// The same loop over the server's own input and output: its wait carries no result (a smaller state machine), and
    /// what arrived goes to the socket straight from the input's blocks when nothing else waits to be sent.
    /// </summary>
    private static async Task EchoBytesAsync(ConnectionInput input, GuardedOutput output)
    {
        while (true)
        {
            await input.WaitAsync().ConfigureAwait(false);
            var result = input.TakeResult();
            var buffer = result.Buffer;
            var ended = result.IsCompleted || result.IsCanceled;
            if (buffer.IsEmpty)
            {
                input.AdvanceTo(buffer.End);
            }
            else
            {
                // What the socket did not take is copied before the flush returns, so the input may let go of it.
                var flush = output.WriteAndFlushAsync(buffer);
                input.AdvanceTo(buffer.End);
                if ((await flush.ConfigureAwait(false)).IsCompleted)
                {
                    return;
                }
            }

            if (ended)
            {
                return;
            }
        }
    }

    /// <summary>Copies what was read to the output and consumes it; false when there was nothing to copy.</summary>
    private static bool Echo(PipeReader input, PipeWriter output, ReadResult result, out bool ended)
    {
        var buffer = result.Buffer;
        ended = result.IsCompleted || result.IsCanceled;
        if (!buffer.IsEmpty)
        {
            output.Write(buffer);
        }

        input.AdvanceTo(buffer.End);
        return !buffer.IsEmpty;
    }
}
