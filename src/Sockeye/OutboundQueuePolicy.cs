namespace Sockeye;

/// <summary>
/// What a send does when a connection's outbound queue is full (<see cref="SocketServerOptions.MaxOutboundQueueSize"/>):
/// the client reads slower than the server pushes to it.
/// </summary>
public enum OutboundQueuePolicy
{
    /// <summary>
    /// The send waits up to <see cref="SocketServerOptions.SlowReaderGrace"/> for room, so a sender is slowed to the pace
    /// of a client that reads; if the client makes none, it is ended as <see cref="ConnectionEndReason.SlowReader"/>,
    /// logged and counted, and the send reports <see cref="SendStatus.Closed"/>: a consumer that has stopped is cut off
    /// rather than held in memory. The default.
    /// </summary>
    Disconnect,

    /// <summary>
    /// The message that does not fit is dropped, counted, and the send reports <see cref="SendStatus.Dropped"/>; the
    /// connection goes on with what was queued before. For data where the latest value is what matters, such as telemetry
    /// or positions.
    /// </summary>
    DropNewest,

    /// <summary>
    /// The send waits until the message fits, in order behind the sends already waiting; the wait can be cancelled. The
    /// write timeout still ends a client that stops reading altogether. A broadcast never waits on one member before
    /// queueing for the others.
    /// </summary>
    Wait,
}
