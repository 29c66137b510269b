using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;

namespace Sockeye.Samples.Resp;

/// <summary>What <see cref="KeyValueStore.Increment"/> found.</summary>
internal enum IncrementResult
{
    Done,
    NotAnInteger,
    Overflow,
}

/// <summary>
/// The sample's database: byte-string keys and values in one dictionary behind one lock, with expiry. Keys are
/// looked up by span, without a copy; a value is copied in when set, and written out while the lock is held, so a
/// value of the same length is overwritten in place.
/// </summary>
/// <remarks>
/// A key that has expired is removed when it is next touched, as Redis does, and a sweep once a second removes
/// the expired keys nobody touches, while any key has a deadline. Expiry runs on <see cref="Environment.TickCount64"/>,
/// the monotonic clock.
/// </remarks>
internal sealed class KeyValueStore : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<byte[], Entry> _entries = new(ByteKeyComparer.Instance);
    private readonly Dictionary<byte[], Entry>.AlternateLookup<ReadOnlySpan<byte>> _lookup;
    private readonly Timer _sweeper;
    private int _expiring;

    public KeyValueStore()
    {
        _lookup = _entries.GetAlternateLookup<ReadOnlySpan<byte>>();
        _sweeper = new Timer(_ => Sweep(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    /// <summary>How many keys there are, the expired ones removed first.</summary>
    public int Count
    {
        get
        {
            Sweep();
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>How many keys have a deadline (INFO's <c>expires</c>), once those past it are swept.</summary>
    public int Expiring
    {
        get
        {
            Sweep();
            lock (_lock)
            {
                return _expiring;
            }
        }
    }

    /// <summary>Writes the value of <paramref name="key"/> through <paramref name="write"/>, under the lock.</summary>
    /// <returns><see langword="false"/> if there is no such key.</returns>
    public bool TryRead<TState>(ReadOnlySpan<byte> key, TState state, Action<TState, ReadOnlyMemory<byte>> write)
    {
        lock (_lock)
        {
            if (!TryFind(key, out var entry))
            {
                return false;
            }

            write(state, entry.Value);
            return true;
        }
    }

    /// <summary>
    /// Sets <c>key</c> to <c>value</c>, with a deadline (0 for none), if <c>condition</c> allows: the key must exist
    /// (<see langword="true"/>, XX), must not (<see langword="false"/>, NX), or either (<see langword="null"/>).
    /// </summary>
    /// <returns>Whether the key was set.</returns>
    public bool Set(ReadOnlySpan<byte> key, in ReadOnlySequence<byte> value, long expiresAt, bool? condition = null)
    {
        lock (_lock)
        {
            return SetLocked(key, value, expiresAt, condition);
        }
    }

    /// <summary>
    /// Sets each key to the value after it (MSET's words after its name), all at once, as Redis does: no command on
    /// another connection sees some of them set and not the others.
    /// </summary>
    public void SetAll(RespCommand.Enumerator pairs)
    {
        lock (_lock)
        {
            while (pairs.MoveNext())
            {
                var key = pairs.Current;
                pairs.MoveNext();
                SetLocked(RespCommands.Key(key), pairs.Current, expiresAt: 0);
            }
        }
    }

    private bool SetLocked(ReadOnlySpan<byte> key, in ReadOnlySequence<byte> value, long expiresAt, bool? condition = null)
    {
        var exists = TryFind(key, out var entry);
        if (condition is { } mustExist && mustExist != exists)
        {
            return false;
        }

        if (entry is null)
        {
            _lookup[key] = entry = new Entry();
        }

        entry.Store(value);
        Expire(entry, expiresAt);
        return true;
    }

    /// <summary>Adds <paramref name="delta"/> to the integer at <paramref name="key"/> (0 when there is none).</summary>
    public IncrementResult Increment(ReadOnlySpan<byte> key, long delta, out long result)
    {
        lock (_lock)
        {
            result = 0;
            if (TryFind(key, out var entry)
                && !RespCommandReader.TryParseInteger(entry.Value, out result))
            {
                return IncrementResult.NotAnInteger;
            }

            if ((delta > 0 && result > long.MaxValue - delta) || (delta < 0 && result < long.MinValue - delta))
            {
                return IncrementResult.Overflow;
            }

            result += delta;
            if (entry is null)
            {
                _lookup[key] = entry = new Entry();
            }

            Span<byte> digits = stackalloc byte[20];
            Utf8Formatter.TryFormat(result, digits, out var length);
            entry.Store(digits[..length]);   // the deadline stays, as in Redis
            return IncrementResult.Done;
        }
    }

    public bool Remove(ReadOnlySpan<byte> key)
    {
        lock (_lock)
        {
            if (!TryFind(key, out var entry))
            {
                return false;
            }

            Expire(entry, 0);
            return _lookup.Remove(key);
        }
    }

    public bool Contains(ReadOnlySpan<byte> key)
    {
        lock (_lock)
        {
            return TryFind(key, out _);
        }
    }

    public void Clear()
    {
        lock (_lock)
        {
            _entries.Clear();
            _expiring = 0;
        }
    }

    public void Dispose() => _sweeper.Dispose();

    private bool TryFind(ReadOnlySpan<byte> key, [NotNullWhen(true)] out Entry? entry)
    {
        if (!_lookup.TryGetValue(key, out entry))
        {
            return false;
        }

        if (entry.ExpiresAt != 0 && entry.ExpiresAt <= Environment.TickCount64)
        {
            Expire(entry, 0);
            _lookup.Remove(key);
            entry = null;
            return false;
        }

        return true;
    }

    private void Expire(Entry entry, long expiresAt)
    {
        _expiring += (expiresAt != 0 ? 1 : 0) - (entry.ExpiresAt != 0 ? 1 : 0);
        entry.ExpiresAt = expiresAt;
    }

    private void Sweep()
    {
        lock (_lock)
        {
            if (_expiring == 0)
            {
                return;
            }

            var now = Environment.TickCount64;
            foreach (var (key, entry) in _entries)
            {
                if (entry.ExpiresAt != 0 && entry.ExpiresAt <= now)
                {
                    Expire(entry, 0);
                    _entries.Remove(key);   // removing while enumerating is allowed for Dictionary
                }
            }
        }
    }

    private sealed class Entry
    {
        public byte[] Value { get; private set; } = [];

        /// <summary>When the key expires, in <see cref="Environment.TickCount64"/> milliseconds; 0 for never.</summary>
        public long ExpiresAt { get; set; }

        public void Store(in ReadOnlySequence<byte> value)
        {
            Resize(value.Length);
            value.CopyTo(Value);
        }

        public void Store(ReadOnlySpan<byte> value)
        {
            Resize(value.Length);
            value.CopyTo(Value);
        }

        // A value of the same length is overwritten in place.
        private void Resize(long length)
        {
            if (Value.Length != length)
            {
                Value = new byte[length];
            }
        }
    }

    /// <summary>Keys compared by their bytes; a span finds a key without making an array of it.</summary>
    private sealed class ByteKeyComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
    {
        public static readonly ByteKeyComparer Instance = new();

        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] obj) => GetHashCode(obj.AsSpan());

        public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);

        public int GetHashCode(ReadOnlySpan<byte> alternate)
        {
            var hash = default(HashCode);
            hash.AddBytes(alternate);
            return hash.ToHashCode();
        }

        public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();
    }
}
