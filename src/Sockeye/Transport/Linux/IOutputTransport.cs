using System.Buffers;

namespace Sockeye.Transport.Linux;

/// <summary>What a <see cref="ConnectionOutput"/> asks of the transport that drains it.</summary>
internal interface IOutputTransport
{
    /// <summary>Sends as much of <paramref name="data"/> as the socket takes now, without waiting.</summary>
    SendResult Send(in ReadOnlySequence<byte> data);

    /// <summary>A send could not start or finish because the socket is full (true) or has drained again (false).</summary>
    void SendBlocked(bool blocked);
}
