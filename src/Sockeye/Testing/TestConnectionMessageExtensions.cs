using System.Buffers;
using System.Runtime.CompilerServices;
using Sockeye.Framing;

namespace Sockeye.Testing;

/// <summary>Typed messages on a <see cref="TestConnection"/>: the test sends and receives them as a client of the protocol would.</summary>
public static class TestConnectionMessageExtensions
{
    /// <summary>Sends <paramref name="message"/> to the handler, written by <paramref name="writer"/>.</summary>
    /// <typeparam name="TMessage">What the writer writes.</typeparam>
    /// <param name="test">The test connection.</param>
    /// <param name="writer">The protocol's writer, such as a codec or a framer.</param>
    /// <param name="message">The message.</param>
    /// <param name="cancellationToken">Cancels the wait while the handler is not reading.</param>
    /// <returns>A task that completes once the message is in the handler's input.</returns>
    public static async Task SendMessageAsync<TMessage>(this TestConnection test, IMessageWriter<TMessage> writer, TMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(test);
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteMessage(message, test.Output);
        await test.Output.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Receives the next message the handler sent, read by <paramref name="reader"/>.</summary>
    /// <typeparam name="TMessage">What the reader makes of a message.</typeparam>
    /// <param name="test">The test connection.</param>
    /// <param name="reader">The protocol's reader, such as a codec or a framer.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>
    /// The message, or <see langword="default"/> once the handler has ended the stream between two messages. A
    /// framer's message is a copy; a message of another type that points into the bytes it was read from is not valid
    /// after this returns (read those with <c>test.Input.ReadMessagesAsync(reader)</c>).
    /// </returns>
    /// <exception cref="ProtocolException">The handler sent something the reader rejects, or ended the stream in the middle of a message.</exception>
    /// <exception cref="ConnectionResetException">The server reset the connection, and every message that arrived before it has been received.</exception>
    public static async Task<TMessage?> ReceiveMessageAsync<TMessage>(this TestConnection test, IMessageReader<TMessage> reader, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(test);
        ArgumentNullException.ThrowIfNull(reader);
        var messages = new MessageReader<TMessage>(test.Input, reader, reader.MaxMessageSize ?? MessageFramer.DefaultMaxMessageSize, cancellationToken: cancellationToken);
        try
        {
            if (!await messages.MoveNextAsync().ConfigureAwait(false))
            {
                return default;
            }

            var message = messages.Current;
            if (typeof(TMessage) == typeof(ReadOnlySequence<byte>))
            {
                // The bytes go back to the pipe when this returns: a framer's slice must outlive that.
                var copy = new ReadOnlySequence<byte>(Unsafe.As<TMessage, ReadOnlySequence<byte>>(ref message).ToArray());
                return Unsafe.As<ReadOnlySequence<byte>, TMessage>(ref copy);
            }

            return message;
        }
        finally
        {
            await messages.DisposeAsync().ConfigureAwait(false);
        }
    }
}
