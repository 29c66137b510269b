using System.Diagnostics.CodeAnalysis;
using System.IO.Pipelines;

namespace Sockeye.Framing;

/// <summary>Messages on connections: read them as an async stream, write them framed.</summary>
/// <example>
/// <code>
/// var framer = new LineFramer();
/// await foreach (var line in connection.ReadMessagesAsync(framer))
/// {
///     connection.WriteMessage(framer, line);   // queued
///     await connection.Transport.Output.FlushAsync();
/// }
/// </code>
/// </example>
public static class ConnectionMessageExtensions
{
    /// <summary>
    /// Reads the messages the client sends, parsed by <paramref name="reader"/>, until it ends its side of the
    /// stream between two messages, or the server asks the connection to close (see
    /// <see cref="Connection.CloseRequested"/>) while no message is under way.
    /// </summary>
    /// <typeparam name="TMessage">What the reader makes of a message: with a <see cref="MessageFramer"/>, its bytes.</typeparam>
    /// <param name="connection">The connection to read from.</param>
    /// <param name="reader">The protocol's reader, such as a framer.</param>
    /// <param name="cancellationToken">Cancels the wait for the next message.</param>
    /// <returns>
    /// The messages. A message that points into the receive buffer (a framer's slice without its framing, say) is
    /// valid until the next message is asked for, and never copied.
    /// </returns>
    /// <remarks>
    /// The largest message accepted is the reader's <see cref="IMessageReader{TMessage}.MaxMessageSize"/>, or else
    /// the connection's. A client that sends more has its connection aborted with
    /// <see cref="ConnectionEndReason.MessageTooLarge"/>; one that sends a malformed message, or ends the stream in
    /// the middle of one, has it end with <see cref="ConnectionEndReason.ProtocolError"/>. Either way the enumeration
    /// throws a <see cref="ProtocolException"/>, also one whose message the reader skipped
    /// (<see cref="ProtocolException.MessageSkipped"/>): to answer such a message and go on, serve the connection with
    /// <c>MessageConnectionHandler&lt;TMessage&gt;</c> and its <c>OnInvalidMessage</c>. Leaving the loop early leaves
    /// the bytes after the last message in the connection's input.
    /// </remarks>
    public static IAsyncEnumerable<TMessage> ReadMessagesAsync<TMessage>(this Connection connection, IMessageReader<TMessage> reader, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(reader);
        return new MessageStream<TMessage>(connection, reader, cancellationToken);
    }

    /// <summary>
    /// Writes <paramref name="message"/> for the client, framed by <paramref name="framer"/>, without flushing: messages
    /// written together go out together at the next flush.
    /// </summary>
    /// <param name="connection">The connection to write to.</param>
    /// <param name="framer">The message format.</param>
    /// <param name="message">The message, without framing.</param>
    /// <exception cref="ArgumentException">The message cannot be framed in this format.</exception>
    public static void WriteMessage(this Connection connection, MessageFramer framer, ReadOnlySpan<byte> message)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(framer);
        framer.WriteMessage(message, connection.Transport.Output);
        connection.OnMessageSent();
    }

    /// <summary>
    /// Writes <paramref name="message"/> for the client as UTF-8, framed by <paramref name="framer"/>, without flushing:
    /// a reply line, a status. Messages written together go out together at the next flush.
    /// </summary>
    /// <param name="connection">The connection to write to.</param>
    /// <param name="framer">The message format.</param>
    /// <param name="message">The text, without framing.</param>
    /// <exception cref="ArgumentException">The message cannot be framed in this format (a line with a line break in it, say).</exception>
    public static void WriteMessage(this Connection connection, MessageFramer framer, string message)
    {
        using var utf8 = new PooledUtf8(message);
        WriteMessage(connection, framer, utf8.Bytes);
    }

    /// <summary>
    /// Writes <paramref name="message"/> for the client with <paramref name="writer"/>, without flushing: messages
    /// written together go out together at the next flush. The message may come straight from
    /// <see cref="ReadMessagesAsync{TMessage}(Connection, IMessageReader{TMessage}, CancellationToken)"/>.
    /// </summary>
    /// <typeparam name="TMessage">What the writer writes.</typeparam>
    /// <param name="connection">The connection to write to.</param>
    /// <param name="writer">The protocol's writer, such as a framer.</param>
    /// <param name="message">The message.</param>
    /// <exception cref="ArgumentException">The message cannot be written in this format.</exception>
    public static void WriteMessage<TMessage>(this Connection connection, IMessageWriter<TMessage> writer, TMessage message)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteMessage(message, connection.Transport.Output);
        connection.OnMessageSent();
    }

    /// <summary>Writes <paramref name="message"/> for the client, framed by <paramref name="framer"/>, and flushes.</summary>
    /// <param name="connection">The connection to write to.</param>
    /// <param name="framer">The message format.</param>
    /// <param name="message">The message, without framing.</param>
    /// <param name="cancellationToken">Cancels the flush's wait for room in the send buffer.</param>
    /// <returns>The flush's result: <see cref="FlushResult.IsCompleted"/> once the client can no longer be written to.</returns>
    /// <exception cref="ArgumentException">The message cannot be framed in this format.</exception>
    [SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = "A framer's bytes and a writer's message never compete: the generic overload's type cannot be inferred from bytes.")]
    public static ValueTask<FlushResult> WriteMessageAsync(this Connection connection, MessageFramer framer, ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        WriteMessage(connection, framer, message.Span);
        return connection.Transport.Output.FlushAsync(cancellationToken);
    }

    /// <summary>Writes <paramref name="message"/> for the client as UTF-8, framed by <paramref name="framer"/>, and flushes.</summary>
    /// <param name="connection">The connection to write to.</param>
    /// <param name="framer">The message format.</param>
    /// <param name="message">The text, without framing.</param>
    /// <param name="cancellationToken">Cancels the flush's wait for room in the send buffer.</param>
    /// <returns>The flush's result: <see cref="FlushResult.IsCompleted"/> once the client can no longer be written to.</returns>
    /// <exception cref="ArgumentException">The message cannot be framed in this format (a line with a line break in it, say).</exception>
    [SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = "The overloads differ in the message's type; each takes the same optional token, as Stream.WriteAsync's do.")]
    public static ValueTask<FlushResult> WriteMessageAsync(this Connection connection, MessageFramer framer, string message, CancellationToken cancellationToken = default)
    {
        WriteMessage(connection, framer, message);
        return connection.Transport.Output.FlushAsync(cancellationToken);
    }

    /// <summary>Writes <paramref name="message"/> for the client with <paramref name="writer"/>, and flushes.</summary>
    /// <typeparam name="TMessage">What the writer writes.</typeparam>
    /// <param name="connection">The connection to write to.</param>
    /// <param name="writer">The protocol's writer, such as a framer.</param>
    /// <param name="message">The message.</param>
    /// <param name="cancellationToken">Cancels the flush's wait for room in the send buffer.</param>
    /// <returns>The flush's result: <see cref="FlushResult.IsCompleted"/> once the client can no longer be written to.</returns>
    /// <exception cref="ArgumentException">The message cannot be written in this format.</exception>
    [SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = "A framer's bytes and a writer's message never compete: the generic overload's type cannot be inferred from bytes.")]
    public static ValueTask<FlushResult> WriteMessageAsync<TMessage>(this Connection connection, IMessageWriter<TMessage> writer, TMessage message, CancellationToken cancellationToken = default)
    {
        WriteMessage(connection, writer, message);
        return connection.Transport.Output.FlushAsync(cancellationToken);
    }
}
