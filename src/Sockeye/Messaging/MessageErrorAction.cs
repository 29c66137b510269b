namespace Sockeye.Messaging;

/// <summary>What becomes of a connection when the handler of one of its messages throws.</summary>
public enum MessageErrorAction
{
    /// <summary>The connection ends, as when any handler throws (<see cref="ConnectionEndReason.HandlerError"/>).</summary>
    EndConnection,

    /// <summary>The connection goes on with its next message (after the error handler has replied, say).</summary>
    Continue,
}
