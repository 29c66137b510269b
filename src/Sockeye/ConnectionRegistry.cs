using Sockeye.Transport;

namespace Sockeye;

/// <summary>
/// The live connections of one server, and a signal for when the last one has gone. Connections sit in an array
/// of slots reused through a free list: four bytes per connection, where a dictionary would take a node of fifty.
/// </summary>
internal sealed class ConnectionRegistry
{
    private readonly Lock _gate = new();
    private TransportConnection?[] _slots = new TransportConnection?[256];
    private int[] _free = new int[256];
    private int _freeCount;
    private int _used;
    private int _count;
    private TaskCompletionSource? _emptied;

    public int Count => Volatile.Read(ref _count);

    /// <summary>
    /// The live connections. Enumerating takes no lock and copies nothing; a connection that ends meanwhile may still
    /// be seen once, which every caller tolerates.
    /// </summary>
    public IEnumerable<TransportConnection> All
    {
        get
        {
            var slots = Volatile.Read(ref _slots);
            var used = Math.Min(Volatile.Read(ref _used), slots.Length);
            for (var i = 0; i < used; i++)
            {
                if (Volatile.Read(ref slots[i]) is { } connection)
                {
                    yield return connection;
                }
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
    public void Add(TransportConnection connection)
    {
        lock (_gate)
        {
            int slot;
            if (_freeCount > 0)
            {
                slot = _free[--_freeCount];
            }
            else
            {
                slot = _used;
                if (slot == _slots.Length)
                {
                    var grown = new TransportConnection?[_slots.Length * 2];
                    _slots.CopyTo(grown, 0);
                    Volatile.Write(ref _slots, grown);
                    Array.Resize(ref _free, grown.Length);
                }

                Volatile.Write(ref _used, slot + 1);
            }

            connection.RegistrySlot = slot;
            Volatile.Write(ref _slots[slot], connection);
        }
    }

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
        lock (_gate)
        {
            var slot = connection.RegistrySlot;
            if (slot < 0 || !ReferenceEquals(_slots[slot], connection))
            {
                return;
            }

            Volatile.Write(ref _slots[slot], null);
            _free[_freeCount++] = slot;
            connection.RegistrySlot = -1;
        }

        Release();
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
