using System.Buffers;
using System.Text;

namespace Sockeye.Handlers;

/// <summary>
/// The companion echo server: reads until the delimiter (<c>&lt;EOF&gt;</c> by default), reports the message,
/// sends it back (delimiter included), reports <c>Sent {N} bytes to client.</c>, and closes. One message per
/// connection. A client that ends its side before the delimiter has what it sent reported, and is closed.
/// </summary>
public sealed class EofEchoHandler : ConnectionHandler
{
    /// <summary>The companion's delimiter.</summary>
    public const string DefaultDelimiter = "<EOF>";

    private readonly HandlerOutput _output;
    private readonly byte[] _delimiter;

    /// <summary>Creates the handler.</summary>
    /// <param name="output">Where to report.</param>
    /// <param name="delimiter">The text that ends a message, encoded as UTF-8.</param>
    public EofEchoHandler(HandlerOutput output, string delimiter = DefaultDelimiter)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentException.ThrowIfNullOrEmpty(delimiter);
        _output = output;
        _delimiter = Encoding.UTF8.GetBytes(delimiter);
    }

    /// <inheritdoc />
    public override async Task OnConnectedAsync(Connection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var input = connection.Transport.Input;

        // How many bytes at the start of the buffer are known not to begin a delimiter: each read scans only
        // what is new (plus the few bytes a delimiter split across reads may start in), never the whole message.
        long scanned = 0;
        while (true)
        {
            if (await input.ReadUnlessClosingAsync(connection, idle: scanned == 0).ConfigureAwait(false) is not { } result)
            {
                return;
            }

            if (result.IsCanceled)
            {
                return;
            }

            var buffer = result.Buffer;
            if (TryFindEnd(buffer, scanned, _delimiter) is { } end)
            {
                var message = buffer.Slice(0, end);
                if (message.Length - _delimiter.Length > connection.MaxMessageSize)
                {
                    connection.Abort(ConnectionEndReason.MessageTooLarge);
                    return;
                }

                await EchoAsync(connection, message).ConfigureAwait(false);
                input.AdvanceTo(end);
                return;
            }

            if (buffer.Length >= connection.MaxMessageSize + _delimiter.Length)
            {
                // No delimiter can end within the limit any more.
                connection.Abort(ConnectionEndReason.MessageTooLarge);
                return;
            }

            if (result.IsCompleted)
            {
                // The client ended before the delimiter: report what arrived and close (the docs' server leaks this socket).
                if (!buffer.IsEmpty)
                {
                    await _output.MessageReceivedAsync(connection, buffer).ConfigureAwait(false);
                }

                input.AdvanceTo(buffer.End);
                return;
            }

            if (scanned == 0 && !buffer.IsEmpty)
            {
                // The message has begun: from here the client must keep up the minimum data rate.
                connection.OnMessageStarted();
            }

            scanned = Math.Max(0, buffer.Length - (_delimiter.Length - 1));
            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Finds the end of the first delimiter at or after <paramref name="from"/>.</summary>
    internal static SequencePosition? TryFindEnd(in ReadOnlySequence<byte> buffer, long from, ReadOnlySpan<byte> delimiter)
    {
        var reader = new SequenceReader<byte>(buffer.Slice(from));
        return reader.TryReadTo(out ReadOnlySequence<byte> _, delimiter, advancePastDelimiter: true) ? reader.Position : null;
    }

    private async Task EchoAsync(Connection connection, ReadOnlySequence<byte> message)
    {
        connection.OnMessageReceived();
        await _output.MessageReceivedAsync(connection, message).ConfigureAwait(false);
        var output = connection.Transport.Output;
        output.Write(message);
        var flushed = await output.FlushAsync().ConfigureAwait(false);
        if (!flushed.IsCompleted)
        {
            connection.OnMessageSent();
            await _output.MessageSentAsync(connection, message.Length).ConfigureAwait(false);
        }
    }
}
