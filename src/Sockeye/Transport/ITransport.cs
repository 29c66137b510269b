namespace Sockeye.Transport;

/// <summary>
/// What carries a server's connections: it accepts on the listening sockets the server has bound and hands each
/// client to a <see cref="ConnectionDispatcher"/>, which admits it; it owns what its connections share (event
/// loops, pools) and frees it when disposed, once every connection has ended. See docs/architecture.md.
/// </summary>
internal interface ITransport : IDisposable
{
    TransportKind Kind { get; }

    /// <summary>Starts accepting on a bound listener; every client accepted goes to <paramref name="dispatcher"/>.</summary>
    IConnectionListener StartAccepting(SocketListener listener, ConnectionDispatcher dispatcher);
}
