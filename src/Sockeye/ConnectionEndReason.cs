namespace Sockeye;

/// <summary>
/// Why a connection ended. Every connection ends with exactly one reason: the first one recorded wins,
/// so a timeout that fires while a reset is being handled cannot relabel the connection.
/// </summary>
public enum ConnectionEndReason
{
    /// <summary>The connection has not ended yet.</summary>
    None = 0,

    /// <summary>The handler finished on its own and the server closed the connection.</summary>
    ServerClosed,

    /// <summary>The client ended its side (sent FIN), then the handler finished and the server closed.</summary>
    ClientClosed,

    /// <summary>The client reset the connection, or the network failed under it.</summary>
    ConnectionReset,

    /// <summary>The handler called <see cref="Connection.Abort()"/>.</summary>
    Aborted,

    /// <summary>The handler threw an exception (other than a <see cref="Framing.ProtocolException"/>, which is the client's error).</summary>
    HandlerError,

    /// <summary>The server stopped and the connection did not finish within the shutdown timeout.</summary>
    ServerShutdown,

    /// <summary>No byte moved in either direction for longer than the idle timeout.</summary>
    IdleTimeout,

    /// <summary>The client began a message and then sent it slower than the minimum data rate.</summary>
    SlowClient,

    /// <summary>The client stopped reading, and a write waited longer than the write timeout.</summary>
    SlowReader,

    /// <summary>The client sent a message larger than the maximum message size.</summary>
    MessageTooLarge,

    /// <summary>
    /// The client sent bytes that violate the protocol: a malformed frame or header, or anything a handler refused by
    /// throwing a <see cref="Framing.ProtocolException"/>.
    /// </summary>
    ProtocolError,

    /// <summary>The connection was refused because the server was at its connection limit.</summary>
    ConnectionLimit,

    /// <summary>
    /// The listener takes the PROXY protocol and the peer is not one of its trusted proxies: refused before a byte was read.
    /// </summary>
    UntrustedProxy,

    /// <summary>The peer's PROXY protocol header was malformed or unsupported, or the stream ended inside it.</summary>
    ProxyHeaderInvalid,

    /// <summary>The peer did not send a whole PROXY protocol header within the listener's header timeout.</summary>
    ProxyHeaderTimeout,

    /// <summary>The TLS handshake failed: the client sent something other than TLS, or client and server could not agree.</summary>
    TlsHandshakeFailed,

    /// <summary>The client did not complete the TLS handshake within the listener's handshake timeout.</summary>
    TlsHandshakeTimeout,
}
