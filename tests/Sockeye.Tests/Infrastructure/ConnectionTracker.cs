using System.Collections.Concurrent;

namespace Sockeye.Tests.Infrastructure;

/// <summary>Wraps a handler to see every connection it serves, and to wait until a number of them have started.</summary>
internal sealed class ConnectionTracker(ConnectionHandler inner) : ConnectionHandler
{
    private readonly ConcurrentQueue<Connection> _connections = new();
    private readonly SemaphoreSlim _started = new(0);

    public IReadOnlyList<Connection> Connections => [.. _connections];

    public override Task OnConnectedAsync(Connection connection)
    {
        _connections.Enqueue(connection);
        _started.Release();
        return inner.OnConnectedAsync(connection);
    }

    /// <summary>Waits until <paramref name="count"/> more connections have reached the handler.</summary>
    public async Task WaitForStartedAsync(int count)
    {
        for (var i = 0; i < count; i++)
        {
            await _started.WaitAsync(TestContext.Current.CancellationToken);
        }
    }
}
