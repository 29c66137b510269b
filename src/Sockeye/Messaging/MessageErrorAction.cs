namespace Sockeye.Messaging;

/// <summary>
/// What becomes of a connection when the handler of one of its messages throws
/// (<see cref="MessageConnectionHandler{TMessage}.OnError"/>), or when its client sends a message that does not parse
/// (<see cref="MessageConnectionHandler{TMessage}.OnInvalidMessage"/>).
/// </summary>
public enum MessageErrorAction
{
    /// <summary>
    /// The connection ends with <see cref="ConnectionEndReason.HandlerError"/>, the exception logged as any handler's
    /// (after an invalid message, with <see cref="ConnectionEndReason.ProtocolError"/>, as the client's doing); what
    /// was written before (the error handler's reply, say) is sent first, then the connection closes.
    /// </summary>
    EndConnection,

    /// <summary>The connection goes on with its next message (after the error handler has replied, say); nothing is logged.</summary>
    Continue,
}
