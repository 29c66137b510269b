using System.Collections.Concurrent;

namespace Sockeye.Messaging;

/// <summary>
/// What a connection holds only once it is asked for: the application's items and the groups it belongs to. One field of
/// the connection points here, so an idle connection that uses neither pays eight bytes.
/// </summary>
internal sealed class ConnectionExtras
{
    private ConcurrentDictionary<object, object?>? _items;
    private Membership[] _groups = [];
    private int _groupCount;

    public IDictionary<object, object?> Items
    {
        get
        {
            var items = Volatile.Read(ref _items);
            if (items is null)
            {
                // One lock rather than one per processor: a connection's items are few and rarely written at once.
                var created = new ConcurrentDictionary<object, object?>(concurrencyLevel: 1, capacity: 4);
                items = Interlocked.CompareExchange(ref _items, created, null) ?? created;
            }

            return items;
        }
    }

    /// <summary>Under this object's lock: records that the connection sits in <paramref name="slot"/> of <paramref name="group"/>.</summary>
    public void AddGroup(ConnectionGroup group, int slot)
    {
        if (_groupCount == _groups.Length)
        {
            Array.Resize(ref _groups, Math.Max(2, _groups.Length * 2));
        }

        _groups[_groupCount++] = new Membership(group, slot);
    }

    /// <summary>Under this object's lock: the connection's slot in <paramref name="group"/>, which it leaves; -1 if not a member.</summary>
    public int RemoveGroup(ConnectionGroup group)
    {
        for (var i = 0; i < _groupCount; i++)
        {
            if (ReferenceEquals(_groups[i].Group, group))
            {
                var slot = _groups[i].Slot;
                _groups[i] = _groups[--_groupCount];
                _groups[_groupCount] = default;
                return slot;
            }
        }

        return -1;
    }

    /// <summary>Under this object's lock: whether the connection belongs to <paramref name="group"/>.</summary>
    public bool InGroup(ConnectionGroup group)
    {
        for (var i = 0; i < _groupCount; i++)
        {
            if (ReferenceEquals(_groups[i].Group, group))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The connection has ended: it leaves every group it is in.</summary>
    public void LeaveAllGroups(Connection connection)
    {
        Membership[] groups;
        int count;
        lock (this)
        {
            groups = _groups;
            count = _groupCount;
            _groups = [];
            _groupCount = 0;
        }

        for (var i = 0; i < count; i++)
        {
            groups[i].Group.RemoveSlot(groups[i].Slot, connection);
        }
    }

    private readonly record struct Membership(ConnectionGroup Group, int Slot);
}
