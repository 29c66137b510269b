namespace Sockeye.Framing;

/// <summary>What <see cref="MessageReader{TMessage}.ReadAsync"/> found.</summary>
internal enum MessageReadStatus
{
    /// <summary>A whole message, in <see cref="MessageReader{TMessage}.Current"/>.</summary>
    Message,

    /// <summary>The peer ended the stream between two messages.</summary>
    End,

    /// <summary>The server asked the connection to close while no message was in progress.</summary>
    Closing,

    /// <summary>The peer ended the stream in the middle of a frame; <see cref="MessageReader{TMessage}.CurrentFrame"/> holds what arrived.</summary>
    Truncated,

    /// <summary>
    /// A whole frame whose message does not parse, skipped by the protocol's reader: the stream is still in step, and
    /// <see cref="MessageReader{TMessage}.InvalidMessage"/> says what was wrong. Only a reader made to skip invalid
    /// messages returns it.
    /// </summary>
    Invalid,
}
