using System.Net.Sockets;

namespace Sockeye.Transport.Sockets;

/// <summary>
/// The outcome of one socket operation. Failures come back as a value, not a thrown exception, so a
/// client that resets costs no exception on the hot path.
/// </summary>
internal readonly struct SocketOperationResult
{
    public SocketOperationResult(int bytesTransferred)
    {
        BytesTransferred = bytesTransferred;
        Error = SocketError.Success;
    }

    public SocketOperationResult(SocketError error)
    {
        BytesTransferred = 0;
        Error = error;
    }

    public int BytesTransferred { get; }

    public SocketError Error { get; }

    public bool HasError => Error != SocketError.Success;
}
