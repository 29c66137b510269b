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
/// does a handler that throws one. Any other exception from a handler ends the connection with
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

    /// <inheritdoc />
    public override async Task OnConnectedAsync(Connection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        await foreach (var message in connection.ReadMessagesAsync(_reader ?? _createReader!()).ConfigureAwait(false))
        {
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
