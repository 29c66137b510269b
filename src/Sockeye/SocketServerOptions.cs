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
    /// until the handler catches up. It is always at least <see cref="MaxMessageSize"/> plus 4 KiB, so a
    /// handler can always see a whole message. 1 MiB by default.
    /// </summary>
    public long MaxReceiveBufferSize { get; set; } = 1024 * 1024;

    /// <summary>
    /// How many bytes a handler may write ahead of what the client has taken before its flush waits.
    /// 64 KiB by default.
    /// </summary>
    public long MaxSendBufferSize { get; set; } = 64 * 1024;

    /// <summary>
    /// How long <see cref="SocketServer.StopAsync"/> lets handlers finish before it aborts them. 30 seconds by default.
    /// </summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// After a handler finishes and the server has sent everything and shut down its side, how long the
    /// server keeps reading (and discarding) what the client still sends before it closes the socket.
    /// Closing with unread bytes makes the kernel send a reset, which can destroy a reply the client has not
    /// read yet; this lingering close prevents that. 2 seconds by default.
    /// </summary>
    public TimeSpan LingerTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Runs handler continuations on the socket's I/O thread instead of the thread pool. Faster for handlers
    /// that never block; a handler that blocks stalls its connection's I/O. Off by default.
    /// </summary>
    public bool InlineScheduling { get; set; }

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

        RequirePositive(Backlog, nameof(Backlog));
        RequirePositive(MaxMessageSize, nameof(MaxMessageSize));
        RequirePositive(MaxReceiveBufferSize, nameof(MaxReceiveBufferSize));
        RequirePositive(MaxSendBufferSize, nameof(MaxSendBufferSize));
        RequireNonNegative(ShutdownTimeout, nameof(ShutdownTimeout));
        RequireNonNegative(LingerTimeout, nameof(LingerTimeout));
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
