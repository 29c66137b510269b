using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Sockeye.Diagnostics;

/// <summary>
/// Every log line the library writes. Event ids are stable: operators filter and alert on them, so an id is
/// never reused for a different message, and a retired id stays reserved in the list below.
/// </summary>
/// <remarks>
/// Server: 1-9. Connection: 10-29. PROXY protocol, TLS and listeners: 40-59. Pushed messages: 60-69. Reserved
/// (retired): none yet.
/// </remarks>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Listening on {EndPoint}")]
    public static partial void Listening(ILogger logger, EndPoint endPoint);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information,
        Message = "Stopping: no longer accepting; waiting up to {ShutdownTimeout} for {ConnectionCount} connection(s) to finish")]
    public static partial void Stopping(ILogger logger, TimeSpan shutdownTimeout, int connectionCount);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Stopped")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(EventId = 4, Level = LogLevel.Error, Message = "Accepting on {EndPoint} failed ({SocketError}); retrying")]
    public static partial void AcceptFailed(ILogger logger, EndPoint endPoint, SocketError socketError, Exception exception);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning,
        Message = "{ConnectionCount} connection(s) did not finish in time and were aborted")]
    public static partial void AbortingOnShutdown(ILogger logger, int connectionCount);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning,
        Message = "{ConnectionCount} handler(s) had not returned {Wait} after their connections were aborted; stopping without them")]
    public static partial void HandlersIgnoredAbort(ILogger logger, int connectionCount, TimeSpan wait);

    [LoggerMessage(EventId = 7, Level = LogLevel.Warning,
        Message = "At the connection limit ({MaxConnections}): new connections are closed at once until some end")]
    public static partial void ConnectionLimitReached(ILogger logger, int maxConnections);

    [LoggerMessage(EventId = 8, Level = LogLevel.Error, Message = "The timeout heartbeat failed; it will run again")]
    public static partial void HeartbeatFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 9, Level = LogLevel.Debug, Message = "Connection from {RemoteEndPoint} refused: {Reason}")]
    public static partial void ConnectionRejected(ILogger logger, EndPoint? remoteEndPoint, ConnectionEndReason reason);

    [LoggerMessage(EventId = 10, Level = LogLevel.Debug, Message = "Connection {ConnectionId} accepted from {RemoteEndPoint}")]
    public static partial void ConnectionAccepted(ILogger logger, long connectionId, EndPoint? remoteEndPoint);

    [LoggerMessage(EventId = 11,
        Message = "Connection {ConnectionId} ended: {EndReason}; received {BytesReceived} B, sent {BytesSent} B in {DurationMs:0.0} ms")]
    public static partial void ConnectionEnded(
        ILogger logger, LogLevel level, long connectionId, ConnectionEndReason endReason, long bytesReceived, long bytesSent, double durationMs);

    [LoggerMessage(EventId = 12, Level = LogLevel.Error, Message = "Connection {ConnectionId}: the handler threw")]
    public static partial void HandlerError(ILogger logger, long connectionId, Exception exception);

    [LoggerMessage(EventId = 13, Level = LogLevel.Debug,
        Message = "Connection {ConnectionId}: the handler threw after the connection had ended ({EndReason})")]
    public static partial void HandlerErrorAfterEnd(ILogger logger, long connectionId, ConnectionEndReason endReason, Exception exception);

    [LoggerMessage(EventId = 14, Level = LogLevel.Warning,
        Message = "Connection {ConnectionId}: unexpected socket error {SocketError} while {Operation}")]
    public static partial void UnexpectedSocketError(ILogger logger, long connectionId, SocketError socketError, string operation);

    [LoggerMessage(EventId = 15, Level = LogLevel.Error, Message = "Connection {ConnectionId}: the transport failed unexpectedly")]
    public static partial void TransportError(ILogger logger, long connectionId, Exception exception);

    [LoggerMessage(EventId = 16, Level = LogLevel.Critical, Message = "An epoll event loop stopped: epoll_wait failed (errno {Errno})")]
    public static partial void EventLoopFailed(ILogger logger, int errno);

    [LoggerMessage(EventId = 17, Level = LogLevel.Error, Message = "A connection's event handler failed; the event loop goes on")]
    public static partial void EventHandlerFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 18, Level = LogLevel.Debug,
        Message = "Connection {ConnectionId}: the handler ended it for the client's protocol error ({EndReason}): {Reason}")]
    public static partial void HandlerProtocolError(ILogger logger, long connectionId, ConnectionEndReason endReason, string reason);

    [LoggerMessage(EventId = 40, Level = LogLevel.Information,
        Message = "Connection {ConnectionId}: refused {RemoteEndPoint}, which is not a trusted proxy")]
    public static partial void UntrustedProxy(ILogger logger, long connectionId, EndPoint? remoteEndPoint);

    [LoggerMessage(EventId = 41, Level = LogLevel.Debug,
        Message = "Connection {ConnectionId}: invalid PROXY protocol header from {RemoteEndPoint}: {Reason}")]
    public static partial void ProxyHeaderInvalid(ILogger logger, long connectionId, EndPoint? remoteEndPoint, string reason);

    [LoggerMessage(EventId = 42, Level = LogLevel.Debug,
        Message = "Connection {ConnectionId}: no whole PROXY protocol header from {RemoteEndPoint} within {HeaderTimeout}")]
    public static partial void ProxyHeaderTimeout(ILogger logger, long connectionId, EndPoint? remoteEndPoint, TimeSpan headerTimeout);

    [LoggerMessage(EventId = 43, Level = LogLevel.Debug,
        Message = "Connection {ConnectionId}: proxy {ProxyEndPoint} relays client {RemoteEndPoint}")]
    public static partial void ProxiedClient(ILogger logger, long connectionId, EndPoint? proxyEndPoint, EndPoint? remoteEndPoint);

    [LoggerMessage(EventId = 44, Level = LogLevel.Debug,
        Message = "Connection {ConnectionId}: a LOCAL connection (health check) from proxy {ProxyEndPoint} closed without data; the handler did not run")]
    public static partial void ProxyHealthCheck(ILogger logger, long connectionId, EndPoint? proxyEndPoint);

    [LoggerMessage(EventId = 45, Level = LogLevel.Debug,
        Message = "Connection {ConnectionId}: TLS handshake with {RemoteEndPoint} failed: {Reason}")]
    public static partial void TlsHandshakeFailed(ILogger logger, long connectionId, EndPoint? remoteEndPoint, string reason);

    [LoggerMessage(EventId = 46, Level = LogLevel.Debug,
        Message = "Connection {ConnectionId}: no TLS handshake from {RemoteEndPoint} within {HandshakeTimeout}")]
    public static partial void TlsHandshakeTimeout(ILogger logger, long connectionId, EndPoint? remoteEndPoint, TimeSpan handshakeTimeout);

    [LoggerMessage(EventId = 47, Level = LogLevel.Debug,
        Message = "Connection {ConnectionId}: TLS {Protocol} with {CipherSuite}")]
    public static partial void TlsEstablished(ILogger logger, long connectionId, System.Security.Authentication.SslProtocols protocol, System.Net.Security.TlsCipherSuite cipherSuite);

    [LoggerMessage(EventId = 48, Level = LogLevel.Debug,
        Message = "Connection {ConnectionId}: the TLS stream failed: {Reason}")]
    public static partial void TlsStreamFailed(ILogger logger, long connectionId, string reason);

    [LoggerMessage(EventId = 49, Level = LogLevel.Information,
        Message = "Draining: reporting it to load balancers and still serving for {DrainDelay} before no longer accepting")]
    public static partial void Draining(ILogger logger, TimeSpan drainDelay);

    [LoggerMessage(EventId = 55, Level = LogLevel.Information,
        Message = "TLS certificate {Subject} ({Thumbprint}) from {Path} in use for new connections; it expires {NotAfter:u}")]
    public static partial void TlsCertificateLoaded(ILogger logger, string subject, string thumbprint, string path, DateTime notAfter);

    [LoggerMessage(EventId = 57, Level = LogLevel.Warning,
        Message = "TLS certificate {Subject} ({Thumbprint}) from {Path} in use for new connections has expired: it was valid until {NotAfter:u}, and clients will refuse it; renew it")]
    public static partial void TlsCertificateExpired(ILogger logger, string subject, string thumbprint, string path, DateTime notAfter);

    [LoggerMessage(EventId = 58, Level = LogLevel.Warning,
        Message = "TLS certificate {Subject} ({Thumbprint}) from {Path} in use for new connections is not valid until {NotBefore:u}, and clients will refuse it until then")]
    public static partial void TlsCertificateNotYetValid(ILogger logger, string subject, string thumbprint, string path, DateTime notBefore);

    [LoggerMessage(EventId = 59, Level = LogLevel.Warning,
        Message = "TLS certificate {Subject} ({Thumbprint}) from {Path} in use for new connections expires soon, {NotAfter:u}; renew it")]
    public static partial void TlsCertificateExpiresSoon(ILogger logger, string subject, string thumbprint, string path, DateTime notAfter);

    [LoggerMessage(EventId = 56, Level = LogLevel.Warning,
        Message = "TLS certificate files {Path} changed but cannot be used, so the current certificate stays: {Reason}")]
    public static partial void TlsCertificateReloadFailed(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 60, Level = LogLevel.Information,
        Message = "Connection {ConnectionId}: more than {MaxOutboundQueueSize} B pushed to it waits unsent; the client reads too slowly and is disconnected")]
    public static partial void OutboundQueueOverflow(ILogger logger, long connectionId, long maxOutboundQueueSize);

    [LoggerMessage(EventId = 61, Level = LogLevel.Debug,
        Message = "Connection {ConnectionId}: its outbound queue is full ({MaxOutboundQueueSize} B); pushed messages that do not fit are dropped")]
    public static partial void OutboundQueueDropping(ILogger logger, long connectionId, long maxOutboundQueueSize);

    /// <summary>The level a connection's end is logged at: what a client can cause is never an error.</summary>
    public static LogLevel LevelFor(ConnectionEndReason reason) => reason switch
    {
        ConnectionEndReason.ServerClosed or
        ConnectionEndReason.ClientClosed or
        ConnectionEndReason.ConnectionReset or
        ConnectionEndReason.HandlerError => LogLevel.Debug,
        _ => LogLevel.Information,
    };
}
