using Sockeye.Transport;

namespace Sockeye;

/// <summary>
/// The live connections of one server, found by id in constant time, and a signal for when the last one has gone.
/// Connections sit in an array of slots reused through a free list, and an open-addressing index maps ids to slots:
/// about twenty bytes per connection in all, where a dictionary would take a node of fifty and an allocation per accept.
/// </summary>
/// <remarks>
/// Ids increase by one per connection, so <c>id mod size</c> spreads the live ones over the index almost without
/// collisions; a removed entry leaves a tombstone, and the index is rebuilt (without them) once live entries and
/// tombstones fill three quarters of it. Lookups and enumeration take no lock: they read arrays that are only ever replaced whole.
/// </remarks>
internal sealed class ConnectionRegistry
{
    private const int Empty = 0;
    private const int Tombstone = -1;

    private readonly Lock _gate = new();
    private TransportConnection?[] _slots = new TransportConnection?[256];
    private int[] _free = new int[256];

    // Slot + 1 of the connection whose id hashes here (or past here, probing forward), Empty, or Tombstone. Twice the
    // slots' length, so live entries never fill more than half of it.
    private int[] _index = new int[512];
    private int _indexOccupied;
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
            if (_index.Length < _slots.Length * 2 || _indexOccupied + 1 > _index.Length / 4 * 3)
            {
                // The new index takes every connection in the slots, this one included.
                RebuildIndex();
            }
            else if (Insert(_index, connection.Id, slot))
            {
                _indexOccupied++;
            }
        }
    }

    /// <summary>Finds a registered connection by its id, without a lock.</summary>
    public TransportConnection? Find(long id)
    {
        // The index first: a new index is published after the slots it points into.
        var index = Volatile.Read(ref _index);
        var slots = Volatile.Read(ref _slots);
        var mask = index.Length - 1;
        for (int i = (int)(id & mask), probes = 0; probes < index.Length; i = (i + 1) & mask, probes++)
        {
            var entry = Volatile.Read(ref index[i]);
            if (entry == Empty)
            {
                return null;
            }

            if (entry != Tombstone && (uint)(entry - 1) < (uint)slots.Length && Volatile.Read(ref slots[entry - 1]) is { } connection && connection.Id == id)
            {
                return connection;
            }
        }

        return null;
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
            RemoveFromIndex(connection.Id, slot);
        }

        Release();
    }

    /// <summary>Under the lock: a new index for the slots now, without tombstones, published whole.</summary>
    private void RebuildIndex()
    {
        var index = new int[Math.Max(_index.Length, _slots.Length * 2)];
        var occupied = 0;
        for (var slot = 0; slot < _used; slot++)
        {
            if (_slots[slot] is { } connection && Insert(index, connection.Id, slot))
            {
                occupied++;
            }
        }

        _indexOccupied = occupied;
        Volatile.Write(ref _index, index);
    }

    /// <summary>Enters the id at its first free place (empty or a tombstone); true if that place was empty.</summary>
    private static bool Insert(int[] index, long id, int slot)
    {
        var mask = index.Length - 1;
        var i = (int)(id & mask);
        while (index[i] > 0)
        {
            i = (i + 1) & mask;
        }

        var wasEmpty = index[i] == Empty;
        Volatile.Write(ref index[i], slot + 1);
        return wasEmpty;
    }

    /// <summary>Under the lock: leaves a tombstone where the id's entry was, so later entries stay reachable.</summary>
    private void RemoveFromIndex(long id, int slot)
    {
        var index = _index;
        var mask = index.Length - 1;
        for (int i = (int)(id & mask), probes = 0; probes < index.Length && index[i] != Empty; i = (i + 1) & mask, probes++)
        {
            if (index[i] == slot + 1)
            {
                Volatile.Write(ref index[i], Tombstone);
                return;
            }
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
