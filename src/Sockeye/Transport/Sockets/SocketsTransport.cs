namespace Sockeye.Transport.Sockets;

/// <summary>
/// The portable transport, on System.Net.Sockets: what every platform but Linux runs, and Linux too with
/// <c>SOCKEYE_TRANSPORT=sockets</c>. An accept loop per listener; a receive loop and a send loop per connection.
/// </summary>
internal sealed class SocketsTransport : ITransport
{
    public TransportKind Kind => TransportKind.Sockets;

    /// <summary>The send operations the connections share.</summary>
    public SocketSenderPool SenderPool { get; } = new();

    public IConnectionListener StartAccepting(SocketListener listener, ConnectionDispatcher dispatcher) =>
        new SocketAcceptLoop(listener, dispatcher, SenderPool);

    public void Dispose() => SenderPool.Dispose();
}
