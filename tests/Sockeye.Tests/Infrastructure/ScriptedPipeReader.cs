using System.Buffers;
using System.IO.Pipelines;

namespace Sockeye.Tests.Infrastructure;

/// <summary>
/// A reader that reveals one scripted chunk per read, each chunk its own segment, then reports completion. It
/// forces a protocol to see its input split exactly where the test says, which a real pipe cannot promise.
/// </summary>
internal sealed class ScriptedPipeReader(IReadOnlyList<byte[]> chunks) : PipeReader
{
    private readonly List<byte[]> _revealed = [];
    private long _consumed;
    private bool _completed;

    public int Reads { get; private set; }

    public int Advances { get; private set; }

    /// <summary>Every chunk of one byte.</summary>
    public static ScriptedPipeReader ByteByByte(ReadOnlySpan<byte> data) => new([.. data.ToArray().Select(b => new[] { b })]);

    /// <summary>Two chunks, split at <paramref name="position"/>.</summary>
    public static ScriptedPipeReader SplitAt(ReadOnlySpan<byte> data, int position) => new([data[..position].ToArray(), data[position..].ToArray()]);

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        Reads++;
        if (_revealed.Count < chunks.Count)
        {
            _revealed.Add(chunks[_revealed.Count]);
        }

        var isCompleted = _revealed.Count == chunks.Count && Reads > chunks.Count;
        return ValueTask.FromResult(new ReadResult(Buffer().Slice(_consumed), isCanceled: false, isCompleted));
    }

    public override bool TryRead(out ReadResult result)
    {
        result = default;
        return false;
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        Advances++;
        _consumed += Buffer().Slice(_consumed).Slice(0, consumed).Length;
    }

    public override void CancelPendingRead()
    {
    }

    public override void Complete(Exception? exception = null) => _completed = true;

    private ReadOnlySequence<byte> Buffer()
    {
        if (_revealed.Count == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        Segment? first = null;
        Segment? last = null;
        foreach (var chunk in _revealed)
        {
            var segment = new Segment(chunk);
            if (last is null)
            {
                first = segment;
            }
            else
            {
                last.Append(segment);
            }

            last = segment;
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public void Append(Segment next)
        {
            next.RunningIndex = RunningIndex + Memory.Length;
            Next = next;
        }
    }
}
