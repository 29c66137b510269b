using System.Net.Security;
using Sockeye.Framing;

// Public, so in the root namespace beside SocketClient, as SocketServerOptions is beside SocketServer; the folder
// keeps the client's files together.
namespace Sockeye;

/// <summary>Options for a <see cref="SocketClient"/>: how long to try to connect, TLS, how messages are framed, and reconnecting.</summary>
public sealed class SocketClientOptions
{
    private static readonly WholeStreamFramer s_wholeStream = new();

    /// <summary>
    /// How long connecting may take, name resolution included, across every address a host name resolves to, and the
    /// TLS handshake with <see cref="Tls"/>. 10 seconds by default; <see cref="Timeout.InfiniteTimeSpan"/> for no limit.
    /// </summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The message format for <see cref="SocketClient.SendAsync"/> and <see cref="SocketClient.ReceiveAsync"/>. By
    /// default a <see cref="WholeStreamFramer"/>: a message is sent as it is, and the reply is everything the server
    /// sends until it closes.
    /// </summary>
    public MessageFramer Framer { get; set; } = s_wholeStream;

    /// <summary>
    /// The largest message <see cref="SocketClient.ReceiveAsync"/> accepts where the framer sets no maximum of its
    /// own, in bytes. 1 MiB by default.
    /// </summary>
    public long MaxMessageSize { get; set; } = MessageFramer.DefaultMaxMessageSize;

    /// <summary>
    /// TLS over the connection, or <see langword="null"/> (the default) for plain TCP. Unless
    /// <see cref="SslClientAuthenticationOptions.RemoteCertificateValidationCallback"/> decides otherwise, the server's
    /// certificate must chain to the machine's trusted roots and name the host. When
    /// <see cref="SslClientAuthenticationOptions.TargetHost"/> is not set, the host is the one connected to: the
    /// <see cref="System.Net.DnsEndPoint"/>'s name or the address (a Unix domain socket has none: set it). A client
    /// certificate goes in <see cref="SslClientAuthenticationOptions.ClientCertificates"/> or
    /// <see cref="SslClientAuthenticationOptions.ClientCertificateContext"/>. The options are not changed, so one
    /// instance may serve many clients.
    /// </summary>
    public SslClientAuthenticationOptions? Tls { get; set; }

    /// <summary>
    /// Whether and how the client reconnects when its connection is lost, for a client that must stay connected
    /// through a server's rolling restart; <see langword="null"/> (the default) for never. See
    /// <see cref="SocketClient"/> for what happens to sends and receives across a reconnect.
    /// </summary>
    public ReconnectOptions? Reconnect { get; set; }

    /// <summary>The clock for the connect timeout and the reconnect backoff; the system clock by default.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Throws if an option is out of range.</summary>
    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(Framer);
        ArgumentNullException.ThrowIfNull(TimeProvider);
        if (ConnectTimeout <= TimeSpan.Zero && ConnectTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(ConnectTimeout), ConnectTimeout, "ConnectTimeout must be greater than zero.");
        }

        TimerLimit.Require(ConnectTimeout, nameof(ConnectTimeout), "turns it off");

        Reconnect?.Validate();
        if (MaxMessageSize <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxMessageSize), MaxMessageSize, "MaxMessageSize must be greater than zero.");
        }
    }
}
