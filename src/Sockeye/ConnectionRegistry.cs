using System.Collections.Concurrent;
using Sockeye.Transport;

namespace Sockeye;

/// <summary>The live connections of one server, and a signal for when the last one has gone.</summary>
internal sealed class ConnectionRegistry
{
    private readonly ConcurrentDictionary<long, TransportConnection> _connections = new();
    private int _count;
    private TaskCompletionSource? _emptied;

    public int Count => Volatile.Read(ref _count);

    /// <summary>The live connections; enumerating takes no lock and copies nothing.</summary>
    public IEnumerable<TransportConnection> All
    {
        get
        {
            foreach (var pair in _connections)
            {
                yield return pair.Value;
            }
        }
    }

    /// <summary>
    /// Takes a place for one more connection unless <paramref name="limit"/> places are taken. Taking and checking
    /// are one atomic step, so several accept loops together can never overshoot the limit.
    /// </summary>
    public bool TryReserve(int? limit)
    {
        var count = Interlocked.Increment(ref _count);
        if (count > limit)
        {
            Interlocked.Decrement(ref _count);
            return false;
        }

        return true;
    }

    /// <summary>Registers a connection in a place taken with <see cref="TryReserve"/>.</summary>
    public void Add(TransportConnection connection) => _connections[connection.Id] = connection;

    /// <summary>Gives up a place taken with <see cref="TryReserve"/> that no connection will use.</summary>
    public void Release()
    {
        if (Interlocked.Decrement(ref _count) == 0)
        {
            Volatile.Read(ref _emptied)?.TrySetResult();
        }
    }

    /// <summary>Removes a connection and gives up its place.</summary>
    public void Remove(TransportConnection connection)
    {
        if (_connections.TryRemove(connection.Id, out _))
        {
            Release();
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
