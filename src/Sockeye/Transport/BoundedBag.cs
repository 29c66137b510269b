using System.Collections.Concurrent;

namespace Sockeye.Transport;

/// <summary>
/// A thread-safe store of reusable objects that keeps at most a fixed number; what does not fit is left to
/// the caller to drop. Shared by the memory pool and the sender pool.
/// </summary>
internal sealed class BoundedBag<T>(int capacity)
    where T : class
{
    private readonly ConcurrentQueue<T> _items = new();
    private int _count;
    private bool _closed;

    public bool TryTake(out T? item)
    {
        if (_items.TryDequeue(out item))
        {
            Interlocked.Decrement(ref _count);
            return true;
        }

        return false;
    }

    /// <summary>Keeps <paramref name="item"/> unless the store is full or closed.</summary>
    public bool TryKeep(T item)
    {
        if (Volatile.Read(ref _closed))
        {
            return false;
        }

        if (Interlocked.Increment(ref _count) > capacity)
        {
            Interlocked.Decrement(ref _count);
            return false;
        }

        _items.Enqueue(item);
        return true;
    }

    /// <summary>Stops keeping items and hands back those it held.</summary>
    public IEnumerable<T> Close()
    {
        Volatile.Write(ref _closed, true);
        while (TryTake(out var item))
        {
            yield return item!;
        }
    }
}
