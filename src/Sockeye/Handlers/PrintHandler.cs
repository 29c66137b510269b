namespace Sockeye.Handlers;

/// <summary>
/// The seed's server: reads until the client ends its side, then reports what arrived
/// (<c>Read {N} bytes from socket.</c> and <c> Data : {text}</c>) and closes.
/// </summary>
/// <param name="output">Where to report.</param>
public sealed class PrintHandler(HandlerOutput output) : ConnectionHandler
{
    /// <inheritdoc />
    public override async Task OnConnectedAsync(Connection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var input = connection.Transport.Input;
        var idle = true;
        while (true)
        {
            if (await input.ReadUnlessClosingAsync(connection, idle).ConfigureAwait(false) is not { } result)
            {
                return;
            }

            var buffer = result.Buffer;
            if (buffer.Length > connection.MaxMessageSize)
            {
                connection.Abort(ConnectionEndReason.MessageTooLarge);
                return;
            }

            if (result.IsCanceled)
            {
                return;
            }

            if (result.IsCompleted)
            {
                if (!buffer.IsEmpty)
                {
                    connection.OnMessageReceived();
                    await output.MessageReceivedAsync(connection, buffer).ConfigureAwait(false);
                }

                input.AdvanceTo(buffer.End);
                return;
            }

            // Keep everything buffered until the client is done; look only at what is new next time. The whole
            // stream is the message: from its first byte the client must keep up the minimum data rate.
            if (idle && !buffer.IsEmpty)
            {
                connection.OnMessageStarted();
            }

            idle = buffer.IsEmpty;
            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }
}
