using System.Runtime.ExceptionServices;
using Sockeye.Framing;

namespace Sockeye.Messaging;

/// <summary>
/// Serves a connection as a stream of messages: reads each one with a protocol's reader and hands it to a
/// <see cref="MessageHandler{TMessage}"/> (a router, say), until the client ends its side between two messages or the
/// server asks the connection to close.
/// </summary>
/// <typeparam name="TMessage">What the protocol's reader makes of a message.</typeparam>
/// <remarks>
/// <para>
/// Replies to messages that arrived together leave in one send, once no whole message is left to read (see
/// <see cref="ConnectionMessageExtensions.ReadMessagesAsync{TMessage}(Connection, IMessageReader{TMessage}, CancellationToken)"/>).
/// </para>
/// <para>
/// A client that breaks the protocol ends its connection as the reader's <see cref="ProtocolException"/> says, and so
/// does a handler that throws one; a message that is framed whole but does not parse ends it too, unless
/// <see cref="OnInvalidMessage"/> says to go on. Any other exception from a handler ends the connection with
/// <see cref="ConnectionEndReason.HandlerError"/>, unless <see cref="OnError"/> says to go on.
/// </para>
/// </remarks>
public sealed class MessageConnectionHandler<TMessage> : ConnectionHandler
{
    private readonly IMessageReader<TMessage>? _reader;
    private readonly Func<IMessageReader<TMessage>>? _createReader;
    private readonly MessageHandler<TMessage> _handler;

    /// <summary>Creates a handler that reads messages with <paramref name="reader"/> and hands them to <paramref name="handler"/>.</summary>
    /// <param name="reader">The protocol's reader, which keeps no state between calls: one instance serves every connection.</param>
    /// <param name="handler">What handles each message: a router, or a handler of every message.</param>
    public MessageConnectionHandler(IMessageReader<TMessage> reader, MessageHandler<TMessage> handler)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(handler);
        _reader = reader;
        _handler = handler;
    }

    /// <summary>
    /// Creates a handler that reads each connection's messages with a reader of its own, made by
    /// <paramref name="createReader"/>: for a reader that keeps state between calls, such as its place in a message
    /// that arrives in pieces.
    /// </summary>
    /// <param name="createReader">Makes a connection's reader, once per connection.</param>
    /// <param name="handler">What handles each message: a router, or a handler of every message.</param>
    public MessageConnectionHandler(Func<IMessageReader<TMessage>> createReader, MessageHandler<TMessage> handler)
    {
        ArgumentNullException.ThrowIfNull(createReader);
        ArgumentNullException.ThrowIfNull(handler);
        _createReader = createReader;
        _handler = handler;
    }

    /// <summary>
    /// What to do when a message's handler throws anything but a <see cref="ProtocolException"/>: reply with an error
    /// and go on (<see cref="MessageErrorAction.Continue"/>), or end the connection. <see langword="null"/> (the
    /// default) ends it with a reset, as any handler's exception does, once the replies written until then (to the
    /// messages before it, batched, and what the failed handler wrote) have been sent. Ended by
    /// <see cref="MessageErrorAction.EndConnection"/>, it closes instead, after what was written (the error handler's
    /// reply, say) has been sent; either way it ends with <see cref="ConnectionEndReason.HandlerError"/> and the exception
    /// is logged.
    /// </summary>
    public MessageErrorHandler<TMessage>? OnError { get; init; }

    /// <summary>
    /// What to do when the client sends a message that is framed whole but does not parse, which the reader skipped
    /// (<see cref="ProtocolException.MessageSkipped"/>: malformed JSON for a <see cref="JsonMessageCodec{TMessage}"/>,
    /// say): reply with an error and read the next message (<see cref="MessageErrorAction.Continue"/>; the reply is
    /// batched with the replies to the messages around it), or end the connection
    /// (<see cref="MessageErrorAction.EndConnection"/>: it closes after what was written, the error reply say, has been
    /// sent, with <see cref="ConnectionEndReason.ProtocolError"/>). <see langword="null"/> (the default) ends it with
    /// <see cref="ConnectionEndReason.ProtocolError"/>, as any protocol error. A protocol error the reader could not
    /// skip (a message over the maximum, a malformed frame, a stream that ends inside one) never reaches it: the
    /// connection ends as the error says.
    /// </summary>
    public InvalidMessageHandler? OnInvalidMessage { get; init; }

    /// <inheritdoc />
    public override async Task OnConnectedAsync(Connection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        // The reader ReadMessagesAsync enumerates with, told whether to report an invalid message rather than throw it.
        var reader = MessageReader<TMessage>.Create(connection, _reader ?? _createReader!(), connection.Transport.Output);
        reader.SkipInvalidMessages = OnInvalidMessage is not null;
        await using var _ = reader.ConfigureAwait(false);
        while (await reader.MoveNextAsync().ConfigureAwait(false))
        {
            if (reader.InvalidMessage is { } invalid)
            {
                if (await OnInvalidMessage!(connection, invalid).ConfigureAwait(false) == MessageErrorAction.EndConnection)
                {
                    // As a handler's ProtocolException: the client's error, and a close after what was written is sent.
                    connection.TrySetEndReason(ConnectionEndReason.ProtocolError);
                    ExceptionDispatchInfo.Throw(invalid);
                }

                continue;
            }

            var message = reader.Current;
            try
            {
                await _handler.OnMessageAsync(connection, message).ConfigureAwait(false);
            }
            catch (ProtocolException error)
            {
                // The handler found the client at fault, as a reader would have: the connection ends as the error says.
                connection.TrySetEndReason(error.EndReason);
                throw;
            }
            catch (Exception error) when (OnError is not null && !connection.ConnectionClosed.IsCancellationRequested)
            {
                if (await OnError(connection, message, error).ConfigureAwait(false) == MessageErrorAction.EndConnection)
                {
                    // What the error handler wrote (its error reply) goes out before the close, which a reset would lose.
                    connection.CloseAfterHandlerError();
                    throw;
                }
            }
            catch (Exception) when (!connection.ConnectionClosed.IsCancellationRequested)
            {
                // The replies to the messages before this one are batched, not flushed yet: they go out before the reset,
                // as they would have had each reply been sent on its own. Whether the client learns that its earlier
                // commands ran must not depend on how TCP happened to split them.
                await connection.Transport.Output.FlushBeforeFailingAsync().ConfigureAwait(false);
                throw;
            }
        }
    }
}
