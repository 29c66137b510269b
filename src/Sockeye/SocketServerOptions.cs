using System.Net;

namespace Sockeye;

/// <summary>Options for a <see cref="SocketServer"/>: its endpoints, limits and timeouts.</summary>
/// <remarks>The defaults are safe for untrusted clients on the internet.</remarks>
public sealed class SocketServerOptions
{
    /// <summary>The room a receive buffer keeps beyond one maximum-size message, for framing overhead.</summary>
    internal const long FramingAllowance = 4 * 1024;

    /// <summary>The endpoints to listen on.</summary>
    public IList<ListenerOptions> Listeners { get; } = new List<ListenerOptions>();

    /// <summary>The length of each listener's queue of connections not yet accepted.</summary>
    public int Backlog { get; set; } = 512;

    /// <summary>
    /// The largest message the built-in handlers and framers accept, in bytes. A client that sends more has
    /// its connection ended with <see cref="ConnectionEndReason.MessageTooLarge"/>. 1 MiB by default.
    /// </summary>
    public long MaxMessageSize { get; set; } = 1024 * 1024;

    /// <summary>
    /// How many received bytes the server holds for a connection before it stops reading from the socket
    /// until the handler catches up (consumes half of them). Bytes the handler has looked at but not consumed count:
    /// a handler waiting for the rest of a message holds them. It is always at least <see cref="MaxMessageSize"/>
    /// plus 4 KiB, so a handler can always see a whole message. 1 MiB by default.
    /// </summary>
    public long MaxReceiveBufferSize { get; set; } = 1024 * 1024;

    /// <summary>
    /// How many bytes a handler may write ahead of what the client has taken before its flush waits.
    /// 64 KiB by default.
    /// </summary>
    public long MaxSendBufferSize { get; set; } = 64 * 1024;

    /// <summary>
    /// How many bytes pushed to a connection from outside its handler (<see cref="Connection.SendAsync(ReadOnlyMemory{byte}, CancellationToken)"/>,
    /// <see cref="ConnectionGroup"/> broadcasts) may wait for it, beyond its send buffer, before
    /// <see cref="OutboundQueuePolicy"/> decides. Each message counts its bytes plus 32 for its place in the queue; an
    /// empty queue takes any one message, however large. 256 KiB by default: a client that stops reading costs at most
    /// that, plus its send buffer.
    /// </summary>
    public long MaxOutboundQueueSize { get; set; } = 256 * 1024;

    /// <summary>
    /// What a send to a connection whose outbound queue is full does: end the connection as
    /// <see cref="ConnectionEndReason.SlowReader"/> (<see cref="OutboundQueuePolicy.Disconnect"/>, the default), drop the
    /// message (<see cref="OutboundQueuePolicy.DropNewest"/>), or wait for room (<see cref="OutboundQueuePolicy.Wait"/>).
    /// </summary>
    public OutboundQueuePolicy OutboundQueuePolicy { get; set; } = OutboundQueuePolicy.Disconnect;

    /// <summary>
    /// Under <see cref="OutboundQueuePolicy.Disconnect"/>, how long a send to a full outbound queue waits for room before
    /// the connection is ended as <see cref="ConnectionEndReason.SlowReader"/>. A client that reads keeps making room, so a
    /// sender that outpaces it (one client flooding a room, a burst of broadcasts) is slowed to its pace instead of
    /// cutting it off; one that has stopped reading is ended once this has passed. 1 second by default;
    /// <see cref="TimeSpan.Zero"/> ends the connection at once, with the send.
    /// </summary>
    public TimeSpan SlowReaderGrace { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long <see cref="SocketServer.StopAsync"/> lets handlers finish before it aborts them. 30 seconds by default.
    /// </summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long <see cref="SocketServer.StopAsync"/> goes on accepting and serving as usual, while it reports that it is
    /// draining (<see cref="SocketServer.Draining"/>, <see cref="Connection.ServerDraining"/>, and
    /// <see cref="Handlers.AgentCheckHandler"/>'s answer), before it stops accepting. It gives load balancers time to
    /// send new clients elsewhere, so none reaches a listener as it closes. <see cref="ShutdownTimeout"/> starts after
    /// it. 0 (the default) stops accepting at once.
    /// </summary>
    public TimeSpan DrainDelay { get; set; }

    /// <summary>
    /// The most connections open at once; a client that connects beyond it is closed at once, without data.
    /// <see langword="null"/> means no limit. 10,000 by default: with the default buffers that bounds what clients
    /// can make the server hold.
    /// </summary>
    public int? MaxConnections { get; set; } = 10_000;

    /// <summary>
    /// A connection on which no byte has moved in either direction for this long is ended with
    /// <see cref="ConnectionEndReason.IdleTimeout"/>. <see cref="Timeout.InfiniteTimeSpan"/> turns it off. 5 minutes by default.
    /// </summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Once a client has begun a message, the least it must send, in bytes per second averaged since the message
    /// began, until the message is complete; a slower client is ended with <see cref="ConnectionEndReason.SlowClient"/>.
    /// This is the defence against slowloris clients that trickle bytes to hold a connection. Time the server spends
    /// not reading because the handler is behind does not count against the client. 0 turns it off. 240 by default.
    /// </summary>
    /// <remarks>
    /// Messages are marked by the message loop (<see cref="Framing.ConnectionMessageExtensions.ReadMessagesAsync{TMessage}(Connection, Framing.IMessageReader{TMessage}, CancellationToken)"/>);
    /// between messages only <see cref="IdleTimeout"/> applies. A raw byte stream, and a <see cref="Framing.WholeStreamFramer"/>'s
    /// message that ends only with the stream, have no message to trickle: only <see cref="IdleTimeout"/> applies to them.
    /// </remarks>
    public double MinDataRate { get; set; } = 240;

    /// <summary>How long a message may take before <see cref="MinDataRate"/> is enforced. 5 seconds by default.</summary>
    public TimeSpan MinDataRateGracePeriod { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long one send may wait for the client to take the bytes; a client that stops reading is ended with
    /// <see cref="ConnectionEndReason.SlowReader"/>. <see cref="Timeout.InfiniteTimeSpan"/> turns it off. 30 seconds by default.
    /// </summary>
    public TimeSpan WriteTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// After a handler finishes and the server has sent everything and shut down its side, how long the
    /// server keeps reading (and discarding) what the client still sends before it closes the socket.
    /// Closing with unread bytes makes the kernel send a reset, which can destroy a reply the client has not
    /// read yet; this lingering close prevents that. 2 seconds by default; zero closes at once. Checked once a second,
    /// as the other timeouts are: the close comes up to a second after the timeout, never before it.
    /// </summary>
    public TimeSpan LingerTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Serves each connection inside a logging scope that carries its <c>ConnectionId</c>, so every line logged while
    /// it is served, the handler's own included, names the connection. On by default. The scope costs about 150
    /// bytes per connection for as long as it lives; turn it off when no log provider shows scopes (the server's own
    /// connection lines name the connection in their message either way).
    /// </summary>
    public bool ConnectionLogScope { get; set; } = true;

    /// <summary>
    /// Runs handler continuations on the socket's I/O thread instead of the thread pool. Faster for handlers
    /// that never block; a handler that blocks stalls its connection's I/O. Off by default.
    /// </summary>
    /// <remarks>
    /// On Linux's epoll transport the whole connection then stays on its event loop's thread: the handler starts
    /// there, up to its first wait, and the closing sequence that follows the client's end runs there too, so a
    /// short connection never touches the thread pool.
    /// </remarks>
    public bool InlineScheduling { get; set; }

    /// <summary>
    /// The transport to run on, over the operator's <c>SOCKEYE_TRANSPORT</c> and the machine's default; for tests that
    /// run the same scenario on each transport.
    /// </summary>
    internal Transport.TransportKind? Transport { get; set; }

    /// <summary>Adds a listener on <paramref name="endPoint"/>.</summary>
    /// <param name="endPoint">The endpoint to bind.</param>
    /// <returns>The new listener's options, to configure further.</returns>
    public ListenerOptions Listen(EndPoint endPoint)
    {
        var listener = new ListenerOptions(endPoint);
        Listeners.Add(listener);
        return listener;
    }

    /// <summary>Adds a listener on <paramref name="address"/> and <paramref name="port"/>.</summary>
    /// <param name="address">The address to bind.</param>
    /// <param name="port">The port to bind, or 0 for any free port.</param>
    /// <returns>The new listener's options, to configure further.</returns>
    public ListenerOptions Listen(IPAddress address, int port) => Listen(new IPEndPoint(address, port));

    /// <summary>
    /// Adds a listener on the loopback addresses: 127.0.0.1, and ::1 where the machine has IPv6. With port 0
    /// both get the same free port. Only this machine can connect.
    /// </summary>
    /// <param name="port">The port to bind, or 0 for any free port.</param>
    /// <returns>The new listener's options, to configure further.</returns>
    public ListenerOptions ListenLocalhost(int port)
    {
        var listener = new ListenerOptions(new IPEndPoint(IPAddress.Loopback, port)) { IsLocalhost = true };
        Listeners.Add(listener);
        return listener;
    }

    /// <summary>The input pipe's pause threshold: the receive buffer, but never less than a message plus framing.</summary>
    internal long EffectiveReceiveBufferSize => Math.Max(MaxReceiveBufferSize, MaxMessageSize + FramingAllowance);

    /// <summary>
    /// Checks the options as <see cref="SocketServer.StartAsync"/> does, so a host can refuse bad configuration
    /// before anything starts.
    /// </summary>
    /// <exception cref="InvalidOperationException">There is no listener.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range; its name is the exception's <c>ParamName</c>.</exception>
    public void Validate()
    {
        if (Listeners.Count == 0)
        {
            throw new InvalidOperationException("The server has no endpoint to listen on.");
        }

        ValidateSettings();
    }

    /// <summary>Checks every option but the presence of a listener: a server fed in-memory connections by the testing kit needs none.</summary>
    internal void ValidateSettings()
    {

        RequirePositive(Backlog, nameof(Backlog));
        RequirePositive(MaxMessageSize, nameof(MaxMessageSize));
        RequirePositive(MaxReceiveBufferSize, nameof(MaxReceiveBufferSize));
        RequirePositive(MaxSendBufferSize, nameof(MaxSendBufferSize));
        RequirePositive(MaxOutboundQueueSize, nameof(MaxOutboundQueueSize));
        if (!Enum.IsDefined(OutboundQueuePolicy))
        {
            throw new ArgumentOutOfRangeException(nameof(OutboundQueuePolicy), OutboundQueuePolicy, $"{nameof(OutboundQueuePolicy)} must be Disconnect, DropNewest or Wait.");
        }

        RequireNonNegative(ShutdownTimeout, nameof(ShutdownTimeout));
        RequireNonNegative(DrainDelay, nameof(DrainDelay));
        if (DrainDelay == Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(DrainDelay), DrainDelay, $"{nameof(DrainDelay)} must be a finite time: the server would never stop.");
        }

        RequireNonNegative(LingerTimeout, nameof(LingerTimeout));
        RequireNonNegative(SlowReaderGrace, nameof(SlowReaderGrace));
        RequirePositiveOrInfinite(IdleTimeout, nameof(IdleTimeout));
        RequirePositiveOrInfinite(WriteTimeout, nameof(WriteTimeout));
        RequireNonNegative(MinDataRateGracePeriod, nameof(MinDataRateGracePeriod));
        if (MinDataRateGracePeriod == Timeout.InfiniteTimeSpan)
        {
            // The heartbeat would read -1 ms as no grace at all; MinDataRate 0 is how the check is turned off.
            throw new ArgumentOutOfRangeException(nameof(MinDataRateGracePeriod), MinDataRateGracePeriod, $"{nameof(MinDataRateGracePeriod)} must be a finite time; {nameof(MinDataRate)} 0 turns the check off.");
        }

        // Every duration is also at most what a timer takes, including those the heartbeat checks, so the rule is one.
        TimerLimit.Require(ShutdownTimeout, nameof(ShutdownTimeout), "waits for handlers without limit");
        TimerLimit.Require(DrainDelay, nameof(DrainDelay));
        TimerLimit.Require(LingerTimeout, nameof(LingerTimeout), "lingers without limit");
        TimerLimit.Require(SlowReaderGrace, nameof(SlowReaderGrace), "waits for room without limit");
        TimerLimit.Require(IdleTimeout, nameof(IdleTimeout), "turns it off");
        TimerLimit.Require(WriteTimeout, nameof(WriteTimeout), "turns it off");
        TimerLimit.Require(MinDataRateGracePeriod, nameof(MinDataRateGracePeriod));
        if (MaxConnections is { } max)
        {
            RequirePositive(max, nameof(MaxConnections));
        }

        if (MinDataRate < 0 || double.IsNaN(MinDataRate) || double.IsInfinity(MinDataRate))
        {
            throw new ArgumentOutOfRangeException(nameof(MinDataRate), MinDataRate, $"{nameof(MinDataRate)} must be 0 (off) or a positive number of bytes per second.");
        }

        foreach (var listener in Listeners)
        {
            listener.Validate();
        }
    }

    private static void RequirePositiveOrInfinite(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero && value != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be greater than zero, or infinite to turn it off (Timeout.InfiniteTimeSpan; Infinite in configuration).");
        }
    }

    private static void RequirePositive(long value, string name)
    {
        if (value <= 0)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be greater than zero.");
        }
    }

    private static void RequireNonNegative(TimeSpan value, string name)
    {
        if (value < TimeSpan.Zero && value != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must not be negative.");
        }
    }
}
