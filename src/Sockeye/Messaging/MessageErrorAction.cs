namespace Sockeye.Messaging;

/// <summary>What becomes of a connection when the handler of one of its messages throws.</summary>
public enum MessageErrorAction
{
    /// <summary>
    /// The connection ends with <see cref="ConnectionEndReason.HandlerError"/>, the exception logged as any handler's; what
    /// was written before (the error handler's reply, say) is sent first, then the connection closes.
    /// </summary>
    EndConnection,

    /// <summary>The connection goes on with its next message (after the error handler has replied, say).</summary>
    Continue,
}
