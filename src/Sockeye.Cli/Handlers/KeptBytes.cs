using System.Buffers;

namespace Sockeye.Cli.Handlers;

/// <summary>
/// A copy of received bytes that outlives the pipe's buffer, in pooled chunks: what the print handler still owes the
/// output when the connection ends before the client finished.
/// </summary>
/// <remarks>
/// Growing never copies what is kept: each chunk is as large as what is kept so far, at least what is being added and at
/// most <see cref="MaxChunkSize"/>, so a copy holds what it keeps plus less than one chunk of spare room. (One array
/// grown by doubling copied what it kept at each growth, and every connection's growth left a smaller array of each
/// size in the pool.)
/// </remarks>
internal sealed class KeptBytes : IDisposable
{
    /// <summary>The largest chunk: the spare room a copy may hold.</summary>
    internal const int MaxChunkSize = 64 * 1024;

    // The chunks in order, and the last one that holds bytes. Chunks past the last one are spares, without arrays.
    private Chunk? _first;
    private Chunk? _last;

    public int Length { get; private set; }

    /// <summary>The bytes of the arrays held: what is kept and the spare room after it.</summary>
    internal long Held
    {
        get
        {
            long held = 0;
            for (var chunk = _first; chunk is not null; chunk = chunk.Next)
            {
                held += chunk.Array.Length;
            }

            return held;
        }
    }

    public ReadOnlySequence<byte> Bytes => _last is null
        ? ReadOnlySequence<byte>.Empty
        : _first == _last ? new(_last.Array, 0, _last.Used) : new(_first!, 0, _last, _last.Used);

    /// <summary>Adds <paramref name="bytes"/> after what is kept.</summary>
    public void Append(in ReadOnlySequence<byte> bytes)
    {
        var left = bytes;
        while (!left.IsEmpty)
        {
            if (_last is null || _last.Used == _last.Array.Length)
            {
                AddChunk(Math.Max(left.Length, Length));
            }

            var room = _last!.Array.AsSpan(_last.Used);
            var count = (int)Math.Min(room.Length, left.Length);
            left.Slice(0, count).CopyTo(room);
            left = left.Slice(count);
            _last.Used += count;
            Length = checked(Length + count);
        }
    }

    /// <summary>Forgets what is kept, and gives its chunks back.</summary>
    public void Clear()
    {
        for (var chunk = _first; chunk is not null && chunk.Array.Length > 0; chunk = chunk.Next)
        {
            chunk.Release();
        }

        _last = null;
        Length = 0;
    }

    public void Dispose() => Clear();

    /// <summary>Starts a chunk after the last, for about <paramref name="wanted"/> bytes: at most <see cref="MaxChunkSize"/>.</summary>
    private void AddChunk(long wanted)
    {
        var next = _last is null ? _first : _last.Next;
        if (next is null)
        {
            next = new Chunk();
            if (_last is null)
            {
                _first = next;
            }
            else
            {
                _last.Link(next);
            }
        }

        next.Rent((int)Math.Min(wanted, MaxChunkSize), runningIndex: Length);
        _last = next;
    }

    /// <summary>One pooled array of the copy; kept, without its array, for reuse once the copy is cleared.</summary>
    private sealed class Chunk : ReadOnlySequenceSegment<byte>
    {
        public byte[] Array { get; private set; } = [];

        public int Used { get; set; }

        public new Chunk? Next => (Chunk?)base.Next;

        public void Rent(int size, long runningIndex)
        {
            Array = ArrayPool<byte>.Shared.Rent(size);
            Memory = Array;
            RunningIndex = runningIndex;
            Used = 0;
        }

        public void Link(Chunk next) => base.Next = next;

        public void Release()
        {
            ArrayPool<byte>.Shared.Return(Array);
            Array = [];
            Memory = default;
            Used = 0;
        }
    }
}
