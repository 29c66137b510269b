using System.Net;
using Sockeye.Testing;

namespace Sockeye;

/// <summary>The server's side of the testing kit: serving in-memory connections (<see cref="TestServer"/>).</summary>
public sealed partial class SocketServer
{
    private ConnectionDelegate? _inMemoryPipeline;

    /// <summary>Starts serving without binding anything: connections come only from <see cref="AcceptInMemory"/>.</summary>
    internal void StartInMemory()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_stopping is not null, this);
            if (_started)
            {
                throw new InvalidOperationException("The server has already started.");
            }

            _context.Options.ValidateSettings();
            _inMemoryPipeline = ListenerOptions.HandlerStep(_handler);
            _started = true;
            _context.StartHeartbeat();
        }
    }

    /// <summary>
    /// Accepts an in-memory connection as the accept loops accept a socket, and runs it on the calling thread up to the
    /// handler's first wait, so that when this returns the handler has started.
    /// </summary>
    /// <exception cref="InvalidOperationException">The server is stopping, or at its connection limit.</exception>
    internal InMemoryServerConnection AcceptInMemory()
    {
        var pipeline = _inMemoryPipeline ?? throw new InvalidOperationException("The server takes in-memory connections only once started for them.");
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_stopping is not null, this);
        }

        if (!_context.TryAdmit())
        {
            _context.Refuse(ConnectionEndReason.ConnectionLimit, () => null);
            throw new InvalidOperationException($"The server is at its connection limit ({_context.Options.MaxConnections}).");
        }

        var id = _context.NextConnectionId();

        // Each client its own port, as sockets would have.
        var connection = new InMemoryServerConnection(id, new IPEndPoint(IPAddress.Loopback, 40000 + (int)(id % 20000)), pipeline, _context);
        _context.Connections.Add(connection);
        _context.Metrics.ConnectionAccepted();
        ((IThreadPoolWorkItem)connection).Execute();
        return connection;
    }
}
