using Sockeye.Framing;

namespace Sockeye.Cli.Handlers;

/// <summary>
/// The relay: every message a client sends goes to every other connected client, framed as it came. A client that
/// reads too slowly is handled by the server's outbound queue policy (by default it is ended as
/// <see cref="ConnectionEndReason.SlowReader"/>) while the others go on.
/// </summary>
/// <param name="framer">The message format, for reading and for relaying.</param>
/// <param name="everyone">The connected clients: one group for every listener, so a client on ::1 hears one on 127.0.0.1.</param>
internal sealed class RelayHandler(MessageFramer framer, ConnectionGroup everyone) : ConnectionHandler
{
    /// <inheritdoc />
    public override async Task OnConnectedAsync(Connection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        everyone.Add(connection);
        await foreach (var message in connection.ReadMessagesAsync(framer).ConfigureAwait(false))
        {
            await everyone.BroadcastMessageAsync(framer, message, except: connection).ConfigureAwait(false);
        }
    }
}
