using System.Buffers;
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
    /// Reads the messages the client sends, framed by <paramref name="framer"/>, until it ends its side of the
    /// stream between two messages, or the server asks the connection to close (see
    /// <see cref="Connection.CloseRequested"/>) while no message is under way.
    /// </summary>
    /// <param name="connection">The connection to read from.</param>
    /// <param name="framer">The message format.</param>
    /// <param name="cancellationToken">Cancels the wait for the next message.</param>
    /// <returns>
    /// The messages, each a slice of the receive buffer without its framing: valid until the next message is asked
    /// for, and never copied.
    /// </returns>
    /// <remarks>
    /// The largest message accepted is the framer's <see cref="MessageFramer.MaxMessageSize"/>, or else the
    /// connection's. A client that sends more has its connection aborted with
    /// <see cref="ConnectionEndReason.MessageTooLarge"/>; one that ends the stream in the middle of a frame has it
    /// end with <see cref="ConnectionEndReason.ProtocolError"/>. Either way the enumeration throws a
    /// <see cref="ProtocolException"/>. Leaving the loop early leaves the bytes after the last message in the
    /// connection's input.
    /// </remarks>
    public static IAsyncEnumerable<ReadOnlySequence<byte>> ReadMessagesAsync(this Connection connection, MessageFramer framer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(framer);
        return new MessageStream(token => MessageReader.Create(connection, framer, cancellationToken: token), cancellationToken);
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
    /// Writes <paramref name="message"/> for the client, framed by <paramref name="framer"/>, without flushing. The
    /// message may come straight from <see cref="ReadMessagesAsync(Connection, MessageFramer, CancellationToken)"/>.
    /// </summary>
    /// <param name="connection">The connection to write to.</param>
    /// <param name="framer">The message format.</param>
    /// <param name="message">The message, without framing.</param>
    /// <exception cref="ArgumentException">The message cannot be framed in this format.</exception>
    public static void WriteMessage(this Connection connection, MessageFramer framer, in ReadOnlySequence<byte> message)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(framer);
        framer.WriteMessage(message, connection.Transport.Output);
        connection.OnMessageSent();
    }

    /// <summary>Writes <paramref name="message"/> for the client, framed by <paramref name="framer"/>, and flushes.</summary>
    /// <param name="connection">The connection to write to.</param>
    /// <param name="framer">The message format.</param>
    /// <param name="message">The message, without framing.</param>
    /// <param name="cancellationToken">Cancels the flush's wait for room in the send buffer.</param>
    /// <returns>The flush's result: <see cref="FlushResult.IsCompleted"/> once the client can no longer be written to.</returns>
    /// <exception cref="ArgumentException">The message cannot be framed in this format.</exception>
    public static ValueTask<FlushResult> WriteMessageAsync(this Connection connection, MessageFramer framer, ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        WriteMessage(connection, framer, message.Span);
        return connection.Transport.Output.FlushAsync(cancellationToken);
    }
}
