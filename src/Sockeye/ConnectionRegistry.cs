using System.Collections.Concurrent;
using Sockeye.Transport;

namespace Sockeye;

/// <summary>The live connections of one server, and a signal for when the last one has gone.</summary>
internal sealed class ConnectionRegistry
{
    private readonly ConcurrentDictionary<long, SocketConnection> _connections = new();
    private int _count;
    private TaskCompletionSource? _emptied;

    public int Count => Volatile.Read(ref _count);

    public ICollection<SocketConnection> Snapshot => _connections.Values;

    public void Add(SocketConnection connection)
    {
        _connections[connection.Id] = connection;
        Interlocked.Increment(ref _count);
    }

    public void Remove(SocketConnection connection)
    {
        if (_connections.TryRemove(connection.Id, out _) && Interlocked.Decrement(ref _count) == 0)
        {
            Volatile.Read(ref _emptied)?.TrySetResult();
        }
    }

    /// <summary>Completes once no connection is left. Call after accepting has stopped.</summary>
    public Task WhenEmptyAsync()
    {
        var emptied = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Interlocked.CompareExchange(ref _emptied, emptied, null);
        emptied = Volatile.Read(ref _emptied)!;
        if (Count == 0)
        {
            emptied.TrySetResult();
        }

        return emptied.Task;
    }
}
