using Sockeye.Framing;
using Sockeye.Messaging;

namespace Sockeye.Samples.Resp;

/// <summary>
/// Serves a Redis client: reads its commands with <see cref="RespCommandReader"/> and routes each by name, until the
/// client leaves, sends QUIT (its handler calls <see cref="Connection.Close()"/>), or breaks the protocol.
/// </summary>
/// <remarks>
/// The loop is <see cref="MessageConnectionHandler{TMessage}"/>'s, written out for what Redis does that it does not:
/// answer a protocol error with an error reply before closing. Replies are not flushed here: <c>ReadMessagesAsync</c>
/// sends all the replies to a batch of pipelined commands at once, when no whole command is left in the receive buffer.
/// </remarks>
internal sealed class RespConnectionHandler(MessageHandler<RespCommand> commands) : ConnectionHandler
{
    public override async Task OnConnectedAsync(Connection connection)
    {
        try
        {
            // A reader per connection: it keeps how far it got through a command that arrives in pieces.
            await foreach (var command in connection.ReadMessagesAsync(new RespCommandReader()))
            {
                await commands.OnMessageAsync(connection, command);
            }
        }
        catch (ProtocolException error)
        {
            // As Redis does: "-ERR Protocol error: ..." and the connection closes (the reader's exception ends it).
            connection.WriteMessage(RespReplyWriter.Instance, RespReply.Error($"ERR {error.Message}"));
            throw;
        }
    }
}
