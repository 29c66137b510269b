namespace Sockeye;

/// <summary>What became of a message sent with <see cref="Connection.SendAsync(ReadOnlyMemory{byte}, CancellationToken)"/>.</summary>
public enum SendStatus
{
    /// <summary>
    /// The message is queued for the connection and will be sent whole, after the messages queued before it, unless the
    /// connection ends first.
    /// </summary>
    Queued,

    /// <summary>
    /// The connection's outbound queue was full and its policy is <see cref="OutboundQueuePolicy.DropNewest"/>: this
    /// message was dropped, and counted in the <c>sockeye.outbound.dropped_messages</c> metric. The connection goes on.
    /// </summary>
    Dropped,

    /// <summary>
    /// The connection has ended or is ending, or its outbound queue overflowed under
    /// <see cref="OutboundQueuePolicy.Disconnect"/> and it was ended as <see cref="ConnectionEndReason.SlowReader"/>: the
    /// message was not queued.
    /// </summary>
    Closed,
}
