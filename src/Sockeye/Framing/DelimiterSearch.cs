using System.Buffers;

namespace Sockeye.Framing;

/// <summary>
/// The search the delimiter and line framers share: find a delimiter in buffered bytes, resuming where the last
/// search stopped, and never looking further than the longest frame allowed.
/// </summary>
internal static class DelimiterSearch
{
    // Delimiters up to this long are searched segment by segment with a seam on the stack; longer ones (rare) by
    // SequenceReader, which is slower on frames that cross segments.
    private const int MaxSeamDelimiter = 64;

    /// <summary>
    /// Finds the first <paramref name="delimiter"/> that ends within <paramref name="frameLimit"/> bytes of the
    /// start of <paramref name="input"/>, searching from <paramref name="examined"/> on.
    /// </summary>
    /// <returns>
    /// <see langword="true"/> with the delimiter's start and end; otherwise <see langword="false"/>, with
    /// <paramref name="examined"/> moved to where the next search resumes.
    /// </returns>
    /// <exception cref="ProtocolException">No frame can end within <paramref name="frameLimit"/> bytes any more.</exception>
    public static bool TryFind(
        in ReadOnlySequence<byte> input,
        ReadOnlySpan<byte> delimiter,
        long frameLimit,
        long maxMessageSize,
        ref SequencePosition examined,
        out SequencePosition delimiterStart,
        out SequencePosition frameEnd)
    {
        // Slicing between two positions and measuring are constant-time: no walk over the segments before them.
        var resumeOffset = input.Slice(input.Start, examined).Length;
        var searchEnd = Math.Min(input.Length, frameLimit);
        if (searchEnd - resumeOffset >= delimiter.Length)
        {
            var window = input.Slice(examined, searchEnd - resumeOffset);
            if (TryFind(window, delimiter, out delimiterStart, out frameEnd))
            {
                return true;
            }
        }

        if (input.Length >= frameLimit)
        {
            throw ProtocolException.MessageTooLarge(maxMessageSize);
        }

        // The last few bytes may begin a delimiter whose rest has not arrived: search them again next time.
        var nextResume = Math.Max(resumeOffset, input.Length - (delimiter.Length - 1));
        examined = input.GetPosition(nextResume - resumeOffset, examined);
        delimiterStart = default;
        frameEnd = default;
        return false;
    }

    /// <summary>Finds the first <paramref name="delimiter"/> in <paramref name="data"/>.</summary>
    public static bool TryFind(in ReadOnlySequence<byte> data, ReadOnlySpan<byte> delimiter, out SequencePosition start, out SequencePosition end)
    {
        if (data.IsSingleSegment)
        {
            var index = data.FirstSpan.IndexOf(delimiter);
            if (index >= 0)
            {
                start = data.GetPosition(index);
                end = data.GetPosition(index + delimiter.Length);
                return true;
            }
        }
        else if (delimiter.Length == 1)
        {
            if (data.PositionOf(delimiter[0]) is { } position)
            {
                start = position;
                end = data.GetPosition(1, position);
                return true;
            }
        }
        else if (delimiter.Length <= MaxSeamDelimiter)
        {
            if (TryFindAcrossSegments(data, delimiter, out var index))
            {
                start = data.GetPosition(index);
                end = data.GetPosition(delimiter.Length, start);
                return true;
            }
        }
        else
        {
            var reader = new SequenceReader<byte>(data);
            if (reader.TryReadTo(out ReadOnlySequence<byte> before, delimiter, advancePastDelimiter: true))
            {
                start = before.End;
                end = reader.Position;
                return true;
            }
        }

        start = default;
        end = default;
        return false;
    }

    /// <summary>
    /// Finds the first <paramref name="delimiter"/> in data of several segments: a vectorized search inside each
    /// segment, and a check of the seam before it for one that starts in earlier segments and ends in it.
    /// </summary>
    private static bool TryFindAcrossSegments(in ReadOnlySequence<byte> data, ReadOnlySpan<byte> delimiter, out long index)
    {
        var overlap = delimiter.Length - 1;

        // The last bytes before the current segment (at most one fewer than the delimiter), then its first few.
        Span<byte> seam = stackalloc byte[2 * MaxSeamDelimiter];
        var tail = 0;
        long segmentStart = 0;
        foreach (var memory in data)
        {
            var span = memory.Span;
            if (tail > 0)
            {
                // Shorter than the delimiter on either side, so anything found here straddles the seam, and comes
                // before anything inside this segment.
                var head = Math.Min(overlap, span.Length);
                span[..head].CopyTo(seam[tail..]);
                var found = seam[..(tail + head)].IndexOf(delimiter);
                if (found >= 0)
                {
                    index = segmentStart - tail + found;
                    return true;
                }
            }

            var inside = span.IndexOf(delimiter);
            if (inside >= 0)
            {
                index = segmentStart + inside;
                return true;
            }

            if (span.Length >= overlap)
            {
                span[^overlap..].CopyTo(seam);
                tail = overlap;
            }
            else
            {
                // A segment shorter than the delimiter: keep the end of the old tail, then all of it.
                var kept = Math.Min(tail, overlap - span.Length);
                seam.Slice(tail - kept, kept).CopyTo(seam);
                span.CopyTo(seam[kept..]);
                tail = kept + span.Length;
            }

            segmentStart += span.Length;
        }

        index = -1;
        return false;
    }

    /// <summary><paramref name="limit"/> plus <paramref name="overhead"/>, or <see cref="long.MaxValue"/> where that overflows.</summary>
    public static long AddSaturating(long limit, long overhead) => limit > long.MaxValue - overhead ? long.MaxValue : limit + overhead;

    /// <summary>The last byte of a non-empty sequence.</summary>
    public static byte LastByte(in ReadOnlySequence<byte> data) =>
        data.IsSingleSegment ? data.FirstSpan[^1] : data.Slice(data.Length - 1).FirstSpan[0];
}
