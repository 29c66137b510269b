using System.Buffers;

namespace Sockeye.Framing;

/// <summary>
/// A protocol's serializer: writes one <typeparamref name="TMessage"/>, framed, to a buffer writer. It keeps no
/// state between calls, so one instance serves every connection.
/// </summary>
/// <typeparam name="TMessage">What a message is before it is written.</typeparam>
/// <remarks>
/// Handlers write through <see cref="ConnectionMessageExtensions.WriteMessage{TMessage}(Connection, IMessageWriter{TMessage}, TMessage)"/>,
/// which queues the bytes without sending them: replies written while a batch of messages is read leave together.
/// The framers (<see cref="MessageFramer"/>) are writers of byte messages.
/// </remarks>
public interface IMessageWriter<in TMessage>
{
    /// <summary>Writes <paramref name="message"/> to <paramref name="output"/>, framed. Nothing is flushed.</summary>
    /// <param name="message">The message.</param>
    /// <param name="output">Where the bytes go, such as a connection's <c>Transport.Output</c>.</param>
    /// <exception cref="ArgumentException">The message cannot be written in this format.</exception>
    void WriteMessage(TMessage message, IBufferWriter<byte> output);
}
