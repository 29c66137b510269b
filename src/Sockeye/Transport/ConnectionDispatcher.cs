using System.Net.Sockets;
using Sockeye.Diagnostics;

namespace Sockeye.Transport;

/// <summary>
/// Where a transport hands every client it accepts on one listener. Admission under the connection limit, the
/// registry, the metrics and the start of each connection happen here, once for every transport; so does the pause
/// after an accept that failed for want of resources.
/// </summary>
internal sealed class ConnectionDispatcher
{
    /// <summary>How long a listener pauses after an error such as "too many open files" before it accepts again.</summary>
    public static readonly TimeSpan AcceptRetryDelay = TimeSpan.FromMilliseconds(100);

    private readonly CancellationToken _stopNow;

    /// <param name="listener">The listening socket the clients come from.</param>
    /// <param name="pipeline">The listener's layers and handler.</param>
    /// <param name="context">What the server's connections share.</param>
    /// <param name="stopNow">Canceled when the server must stop at once: a listener's pause ends with it.</param>
    public ConnectionDispatcher(SocketListener listener, ConnectionDelegate pipeline, ServerContext context, CancellationToken stopNow)
    {
        Listener = listener;
        Pipeline = pipeline;
        Context = context;
        _stopNow = stopNow;
    }

    public SocketListener Listener { get; }

    public ConnectionDelegate Pipeline { get; }

    public ServerContext Context { get; }

    /// <summary>
    /// Admits the client and starts its connection, or, at the connection limit, counts, logs and resets it. Runs on
    /// the accepting thread, and never runs handler code: connections start on the thread pool (or their own loop).
    /// </summary>
    public void Dispatch<TSocket>(in TSocket accepted)
        where TSocket : struct, IAcceptedSocket
    {
        var context = Context;
        if (!context.TryAdmit())
        {
            Refuse(accepted);
            return;
        }

        var connection = accepted.CreateConnection(context.NextConnectionId(), this);
        if (connection is null)
        {
            // The client reset the connection before it could be served.
            context.Connections.Release();
            return;
        }

        context.Connections.Add(connection);
        context.Metrics.ConnectionAccepted();
        if (!accepted.Start(connection))
        {
            context.Connections.Remove(connection);
        }
    }

    /// <summary>
    /// Logs an accept that failed (too many open files, say), then waits before the listener tries again: the clients
    /// in the backlog stay queued meanwhile, and connections that end free what the next accept needs.
    /// </summary>
    /// <returns><see langword="false"/> when the server is stopping at once and the listener should not try again.</returns>
    public async Task<bool> BackOffAsync(SocketError error, Exception exception)
    {
        Log.AcceptFailed(Context.ServerLogger, Listener.EndPoint, error, exception);
        try
        {
            await Task.Delay(AcceptRetryDelay, Context.TimeProvider, _stopNow).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>
    /// Turns a client away at the connection limit. A method of its own: the lambda's capture would otherwise cost
    /// every accepted connection an allocation, refused or not.
    /// </summary>
    private void Refuse<TSocket>(TSocket accepted)
        where TSocket : struct, IAcceptedSocket
    {
        Context.Refuse(ConnectionEndReason.ConnectionLimit, () => accepted.ReadRemoteEndPoint());
        accepted.Reset();
    }
}
