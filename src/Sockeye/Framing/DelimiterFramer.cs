using System.Buffers;
using System.Text;

namespace Sockeye.Framing;

/// <summary>
/// Messages that end with a delimiter: any sequence of bytes, <c>&lt;EOF&gt;</c> by default. The message is
/// the bytes before the first delimiter; the delimiter itself is not part of it.
/// </summary>
public sealed class DelimiterFramer : MessageFramer
{
    /// <summary>The delimiter of the seed's companion programs.</summary>
    public const string DefaultDelimiter = "<EOF>";

    private readonly byte[] _delimiter;

    // Each k such that the delimiter's last (length - k) bytes repeat its first: a message that ends with the
    // delimiter's first k bytes would make a delimiter that starts inside the message, so it cannot be written.
    private readonly int[] _overlaps;

    /// <summary>Creates a framer for the <c>&lt;EOF&gt;</c> delimiter.</summary>
    public DelimiterFramer()
        : this(DefaultDelimiter)
    {
    }

    /// <summary>Creates a framer for a text delimiter.</summary>
    /// <param name="delimiter">The delimiter, encoded as UTF-8.</param>
    public DelimiterFramer(string delimiter)
        : this(Encoding.UTF8.GetBytes(Validate(delimiter)))
    {
    }

    /// <summary>Creates a framer for a delimiter of any bytes.</summary>
    /// <param name="delimiter">The delimiter; at least one byte.</param>
    public DelimiterFramer(ReadOnlySpan<byte> delimiter)
    {
        if (delimiter.IsEmpty)
        {
            throw new ArgumentException("The delimiter must not be empty.", nameof(delimiter));
        }

        _delimiter = delimiter.ToArray();
        _overlaps = [.. Enumerable.Range(1, delimiter.Length - 1).Where(k => _delimiter.AsSpan(k).SequenceEqual(_delimiter.AsSpan(0, _delimiter.Length - k)))];
    }

    /// <summary>The delimiter's bytes.</summary>
    public ReadOnlyMemory<byte> Delimiter => _delimiter;

    /// <inheritdoc />
    public override bool TryParseMessage(
        in ReadOnlySequence<byte> input,
        long maxMessageSize,
        ref SequencePosition consumed,
        ref SequencePosition examined,
        out ReadOnlySequence<byte> message)
    {
        var frameLimit = DelimiterSearch.AddSaturating(maxMessageSize, _delimiter.Length);
        if (DelimiterSearch.TryFind(input, _delimiter, frameLimit, maxMessageSize, ref examined, out var delimiterStart, out var frameEnd))
        {
            // The delimiter ends within the frame limit, so the message is within the maximum.
            message = input.Slice(input.Start, delimiterStart);
            consumed = frameEnd;
            examined = frameEnd;
            return true;
        }

        message = default;
        return false;
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The message holds the delimiter, or ends so that it would start one.</exception>
    public override void WriteMessage(ReadOnlySpan<byte> message, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (message.IndexOf(_delimiter) >= 0 || EndsWithOverlap(message))
        {
            throw Unframeable(nameof(message));
        }

        output.Write(message);
        output.Write(_delimiter);
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The message holds the delimiter, or ends so that it would start one.</exception>
    public override void WriteMessage(in ReadOnlySequence<byte> message, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (message.IsSingleSegment)
        {
            WriteMessage(message.FirstSpan, output);
            return;
        }

        if (DelimiterSearch.TryFind(message, _delimiter, out _, out _) || EndsWithOverlap(message))
        {
            throw Unframeable(nameof(message));
        }

        output.Write(message);

        output.Write(_delimiter);
    }

    private static string Validate(string delimiter)
    {
        ArgumentException.ThrowIfNullOrEmpty(delimiter);
        return delimiter;
    }

    private bool EndsWithOverlap(ReadOnlySpan<byte> message)
    {
        foreach (var k in _overlaps)
        {
            if (message.EndsWith(_delimiter.AsSpan(0, k)))
            {
                return true;
            }
        }

        return false;
    }

    private bool EndsWithOverlap(in ReadOnlySequence<byte> message)
    {
        if (_overlaps.Length == 0)
        {
            return false;
        }

        // Only the last few bytes matter; the longest overlap is shorter than the delimiter.
        var tailLength = (int)Math.Min(message.Length, _delimiter.Length - 1);
        Span<byte> tail = tailLength <= 256 ? stackalloc byte[tailLength] : new byte[tailLength];
        message.Slice(message.Length - tailLength).CopyTo(tail);
        return EndsWithOverlap(tail);
    }

    private ArgumentException Unframeable(string paramName) =>
        new($"The message holds the delimiter ({_delimiter.Length} bytes), so it cannot be framed with it.", paramName);
}
