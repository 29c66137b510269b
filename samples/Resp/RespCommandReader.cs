using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using Sockeye.Framing;

namespace Sockeye.Samples.Resp;

/// <summary>
/// One command a Redis client sent: its name and arguments, as slices of the receive buffer (nothing is copied; an
/// inline command's words are unquoted into a buffer of the reader's). Valid until the next command is read.
/// </summary>
/// <remarks>
/// The arguments are found by walking the command's bytes again, which costs a few header bytes per argument: the
/// reader already checked every length, so the walk cannot fail. That keeps the command a small struct, with no
/// array of positions to allocate for each one.
/// </remarks>
internal readonly struct RespCommand
{
    // The arguments' "$<length>\r\n<bytes>\r\n", one after the other: a multibulk's, or an inline line's words written so.
    private readonly ReadOnlySequence<byte> _body;

    internal RespCommand(ReadOnlySequence<byte> body, int count, bool inline)
    {
        _body = body;
        Count = count;
        IsInline = inline;
    }

    /// <summary>How many words the command has, its name included: at least one.</summary>
    public int Count { get; }

    /// <summary>Whether the client sent the command as a line of words (<c>PING\r\n</c>) rather than as a multibulk array.</summary>
    public bool IsInline { get; }

    /// <summary>The command's name, as the client spelled it.</summary>
    public ReadOnlySequence<byte> Name => this[0];

    /// <summary>The word at <paramref name="index"/>: 0 is the name, 1 the first argument.</summary>
    public ReadOnlySequence<byte> this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
            var words = GetEnumerator();
            for (var i = 0; i <= index; i++)
            {
                words.MoveNext();
            }

            return words.Current;
        }
    }

    /// <summary>Enumerates the words, the name first.</summary>
    public Enumerator GetEnumerator() => new(_body);

    /// <summary>The words of a command, in order, each a slice of the receive buffer.</summary>
    public struct Enumerator
    {
        private readonly ReadOnlySequence<byte> _body;
        private SequencePosition _next;
        private int _offset;

        internal Enumerator(ReadOnlySequence<byte> body)
        {
            _body = body;
            _next = body.Start;
            _offset = 0;
            Current = default;
        }

        /// <summary>The word moved to.</summary>
        public ReadOnlySequence<byte> Current { get; private set; }

        /// <summary>Moves to the next word.</summary>
        /// <returns><see langword="false"/> after the last one.</returns>
        public bool MoveNext()
        {
            if (_body.IsSingleSegment)
            {
                return MoveNextInSpan();
            }

            var reader = new SequenceReader<byte>(_body.Slice(_next));
            if (reader.End)
            {
                return false;
            }

            // The reader checked this argument: '$', digits, "\r\n", the bytes, "\r\n".
            reader.Advance(1);
            RespCommandReader.TryReadLength(ref reader, out var length);
            Current = reader.UnreadSequence.Slice(0, length);
            reader.Advance(length + 2);
            _next = reader.Position;
            return true;
        }

        // The common case, a command in one segment of the receive buffer: the same walk over a span, by offset.
        private bool MoveNextInSpan()
        {
            var span = _body.FirstSpan;
            if (_offset >= span.Length)
            {
                return false;
            }

            var parsed = Utf8Parser.TryParse(span[(_offset + 1)..], out int length, out var digits);
            Debug.Assert(parsed, "The reader checked every length.");
            var start = _offset + 1 + digits + 2;
            Current = _body.Slice(start, length);
            _offset = start + length + 2;
            return true;
        }
    }
}

/// <summary>
/// The Redis serialization protocol's requests (RESP2): multibulk arrays of bulk strings
/// (<c>*2\r\n$3\r\nGET\r\n$1\r\nk\r\n</c>), as every client library sends, and inline commands, words on a line
/// (<c>PING\r\n</c>), as telnet users and <c>redis-benchmark -t ping_inline</c> send.
/// </summary>
/// <remarks>
/// <para>
/// A command that arrives in pieces is parsed once, not again from its start at each piece: while it is incomplete the
/// reader keeps how far it got (the arguments read, the position after the last one), as Redis keeps its parse
/// state, so a command costs time in proportion to its bytes however it is split. That makes it a reader per
/// connection (<c>RespConnectionHandler</c> makes one): never share one between connections, whose calls may run at
/// once, and whose inline commands point into its buffer. It depends on nothing but Sockeye's framing
/// interface, so the fuzz targets compile it as it is.
/// </para>
/// <para>
/// What a client can get wrong ends its connection with a <see cref="ProtocolException"/>, as Redis closes the
/// connection after a protocol error: a header that is not a number, a bulk string without its <c>\r\n</c>, a
/// multibulk of more than 1,048,576 arguments. A bulk string, or a whole command, longer than the maximum message
/// size ends it as <see cref="ConnectionEndReason.MessageTooLarge"/> as soon as its header arrives. Empty lines
/// and empty arrays are skipped, as Redis skips them.
/// </para>
/// <para>
/// Inline commands are split into words as Redis splits them (its <c>sdssplitargs</c>): at spaces, tabs and line
/// ends, with double quotes (escapes <c>\n \r \t \b \a \\ \" \xHH</c>) and single quotes (<c>\'</c> only) around
/// words with spaces, <c>SET k "a b"</c>. An inline line is at most 64 KiB, Redis's own limit.
/// </para>
/// </remarks>
internal sealed class RespCommandReader : IMessageReader<RespCommand>
{
    /// <summary>The most arguments a multibulk command may have: Redis's limit.</summary>
    public const int MaxArguments = 1024 * 1024;

    /// <summary>The longest inline command: Redis's limit.</summary>
    public const int MaxInlineLength = 64 * 1024;

    // "*<count>\r\n" and "$<length>\r\n": a 64-bit number has at most 20 digits.
    private const int MaxHeaderLength = 24;

    // The command under way while it is incomplete. Its positions stay good while the input starts where it did:
    // the read loop hands back the examined position it was given, and consumes nothing until a command is found.
    private bool _underWay;
    private SequencePosition _inputStart;
    private SequencePosition _resume;           // where the last call stopped: the examined position it returned
    private long _resumeOffset;                 // _resume's distance from the command's start
    private SequencePosition _commandStart;
    private SequencePosition _bodyStart;        // multibulk: just after "*<count>\r\n"
    private bool _inline;
    private int _count;                         // multibulk: the arguments announced
    private int _parsed;                        // multibulk: the arguments read whole
    private long _pendingLength = -1;           // multibulk: the length of an argument whose bytes are still arriving

    // An inline command's words, unquoted, as bulk strings (reused: a command is valid until the next is read); one
    // word as it is unquoted; the line, when it lies across segments.
    private ArrayBufferWriter<byte>? _inlineWords;
    private ArrayBufferWriter<byte>? _inlineWord;
    private ArrayBufferWriter<byte>? _lineCopy;

    /// <summary>The bytes the reader has walked over, for the tests: a command split into pieces is walked once.</summary>
    internal long BytesScanned { get; private set; }

    /// <inheritdoc />
    public bool TryParseMessage(
        in ReadOnlySequence<byte> input,
        long maxMessageSize,
        ref SequencePosition consumed,
        ref SequencePosition examined,
        [MaybeNullWhen(false)] out RespCommand message)
    {
        SequenceReader<byte> reader;
        long commandAt;     // the command's start, counted as reader.Consumed counts
        if (_underWay && input.Start.Equals(_inputStart) && examined.Equals(_resume))
        {
            reader = new SequenceReader<byte>(input.Slice(_resume));
            commandAt = -_resumeOffset;
        }
        else
        {
            // A first call, or another input: start from the top.
            _underWay = false;
            if (TryReadWholeMultibulk(input, maxMessageSize, out message, out var length))
            {
                consumed = examined = input.GetPosition(length);
                return true;
            }

            reader = new SequenceReader<byte>(input);
            commandAt = 0;
        }

        try
        {
            while (_underWay || !reader.End)
            {
                if (!_underWay)
                {
                    commandAt = reader.Consumed;
                    _commandStart = reader.Position;
                    if (!TryStartCommand(ref reader))
                    {
                        // "*<count>" is not all there: the next call reads it again, a few bytes at most.
                        BytesScanned += reader.Remaining;
                        consumed = _commandStart;
                        examined = input.End;
                        message = default;
                        return false;
                    }

                    if (!_underWay)
                    {
                        continue;   // "*0" or "*-1": nothing to do, as Redis does nothing
                    }
                }

                var found = _inline
                    ? TryReadLine(ref reader, input, maxMessageSize, commandAt, out message)
                    : TryReadArguments(ref reader, input, maxMessageSize, commandAt, out message);
                if (!found)
                {
                    // Wait for more, and resume here: the command's bytes so far are not walked again.
                    _inputStart = input.Start;
                    _resume = reader.Position;
                    _resumeOffset = reader.Consumed - commandAt;
                    consumed = _commandStart;
                    examined = _resume;
                    return false;
                }

                _underWay = false;
                consumed = reader.Position;
                if (message.Count > 0)
                {
                    examined = consumed;
                    return true;
                }
            }
        }
        catch (ProtocolException)
        {
            _underWay = false;
            throw;
        }
        finally
        {
            BytesScanned += reader.Consumed;
        }

        // Only empty commands, skipped.
        consumed = reader.Position;
        examined = reader.Position;
        message = default;
        return false;
    }

    /// <summary>
    /// The common case, a well-formed multibulk command whole in the first segment (a pipelined batch is many of them):
    /// read over the span by offset, without a <see cref="SequenceReader{T}"/>. Anything else (a command in pieces, across
    /// segments, inline, empty, or malformed) is left to the general walk, which reads it from its start.
    /// </summary>
    private bool TryReadWholeMultibulk(in ReadOnlySequence<byte> input, long maxMessageSize, out RespCommand message, out int length)
    {
        message = default;
        length = 0;
        var span = input.FirstSpan;
        if (span.IsEmpty || span[0] != (byte)'*' || !TryReadWholeLength(span, 1, out var count, out var offset) || count is <= 0 or > MaxArguments)
        {
            return false;
        }

        var bodyStart = offset;
        for (var i = 0; i < count; i++)
        {
            if (offset >= span.Length || span[offset] != (byte)'$'
                || !TryReadWholeLength(span, offset + 1, out var argument, out offset)
                || argument < 0 || argument > maxMessageSize - offset || argument + 2 > span.Length - offset
                || span[offset + (int)argument] != (byte)'\r' || span[offset + (int)argument + 1] != (byte)'\n')
            {
                BytesScanned += offset;     // counted too, for the tests of linear parsing
                return false;
            }

            offset += (int)argument + 2;
        }

        BytesScanned += offset;
        length = offset;
        message = new RespCommand(input.Slice(bodyStart, offset - bodyStart), (int)count, inline: false);
        return true;
    }

    /// <summary>A well-formed <c>&lt;digits&gt;\r\n</c> at <paramref name="start"/> of <paramref name="span"/>, and the offset after it.</summary>
    private static bool TryReadWholeLength(ReadOnlySpan<byte> span, int start, out long value, out int next)
    {
        value = 0;
        next = 0;
        var line = span[start..];
        var end = LengthLineEnd(line);
        if (end < 0 || !TryParseLength(line[..end], out value))
        {
            return false;
        }

        next = start + end + 1;
        return true;
    }

    /// <summary>Reads <c>&lt;digits&gt;\r\n</c>, a length or a count; <c>-1</c> is allowed, for a null array.</summary>
    /// <returns><see langword="false"/> if the line is not all there yet.</returns>
    /// <exception cref="ProtocolException">The line is not a number.</exception>
    internal static bool TryReadLength(ref SequenceReader<byte> reader, out long value, bool multibulk = false)
    {
        // Most lines lie whole in the segment being read: parse them there, without slicing a sequence or copying.
        var span = reader.UnreadSpan;
        var end = LengthLineEnd(span);
        if (end >= 0)
        {
            value = ParseLength(span[..end], multibulk);
            reader.Advance(end + 1);
            return true;
        }

        value = 0;
        if (!reader.TryReadTo(out ReadOnlySequence<byte> line, (byte)'\n'))
        {
            if (reader.Remaining > MaxHeaderLength)
            {
                throw InvalidLength(multibulk);
            }

            return false;
        }

        if (line.Length > MaxHeaderLength)
        {
            throw InvalidLength(multibulk);
        }

        Span<byte> digits = stackalloc byte[MaxHeaderLength];
        line.CopyTo(digits);
        value = ParseLength(digits[..(int)line.Length], multibulk);
        return true;
    }

    /// <summary>Redis's error for a count or a length that is not a number.</summary>
    private static ProtocolException InvalidLength(bool multibulk) =>
        new(multibulk ? "Protocol error: invalid multibulk length" : "Protocol error: invalid bulk length");

    /// <summary>Where the length line at the start of <paramref name="span"/> ends (its <c>\n</c>), if it lies whole there; -1 if not.</summary>
    private static int LengthLineEnd(ReadOnlySpan<byte> span) => span[..Math.Min(span.Length, MaxHeaderLength + 1)].IndexOf((byte)'\n');

    /// <summary>A length line without its <c>\n</c>: digits (or <c>-1</c>), then <c>\r</c>.</summary>
    /// <exception cref="ProtocolException">The line is not a number.</exception>
    private static long ParseLength(ReadOnlySpan<byte> line, bool multibulk) =>
        TryParseLength(line, out var value) ? value : throw InvalidLength(multibulk);

    private static bool TryParseLength(ReadOnlySpan<byte> line, out long value)
    {
        value = 0;
        return !line.IsEmpty && line[^1] == (byte)'\r' && TryParseInteger(line[..^1], out value) && value >= -1;
    }

    /// <summary>
    /// An integer as Redis reads one (its <c>string2ll</c>), in headers, arguments and stored values alike: an optional
    /// <c>-</c>, then digits with no leading zero (<c>0</c> alone aside), in a <see cref="long"/>. No <c>+</c>, no
    /// spaces, no <c>-0</c>: <see cref="Utf8Parser"/> would take <c>+5</c> and <c>05</c>.
    /// </summary>
    public static bool TryParseInteger(ReadOnlySpan<byte> text, out long value)
    {
        value = 0;
        var negative = !text.IsEmpty && text[0] == (byte)'-';
        var digits = negative ? text[1..] : text;
        if (digits.IsEmpty || digits.Length > 19 || (digits[0] == (byte)'0' && (digits.Length > 1 || negative)))
        {
            return false;
        }

        ulong magnitude = 0;   // 19 digits fit in a ulong
        foreach (var digit in digits)
        {
            if (!char.IsAsciiDigit((char)digit))
            {
                return false;
            }

            magnitude = (magnitude * 10) + (ulong)(digit - '0');
        }

        if (magnitude > (negative ? (ulong)long.MaxValue + 1 : long.MaxValue))
        {
            return false;
        }

        value = negative ? unchecked((long)(0 - magnitude)) : (long)magnitude;
        return true;
    }

    /// <summary>Starts the command at the reader: reads a multibulk's <c>*&lt;count&gt;\r\n</c>, or notes an inline one.</summary>
    /// <returns><see langword="false"/> if the count is not all there yet.</returns>
    private bool TryStartCommand(ref SequenceReader<byte> reader)
    {
        if (!reader.IsNext((byte)'*'))
        {
            _inline = true;
            _underWay = true;
            return true;
        }

        reader.Advance(1);
        if (!TryReadLength(ref reader, out var count, multibulk: true))
        {
            reader.Rewind(1);
            return false;
        }

        if (count > MaxArguments)
        {
            throw InvalidLength(multibulk: true);
        }

        if (count > 0)
        {
            _inline = false;
            _underWay = true;
            _count = (int)count;
            _parsed = 0;
            _pendingLength = -1;
            _bodyStart = reader.Position;
        }

        return true;
    }

    /// <summary>Reads the multibulk's arguments from the first one not yet read whole.</summary>
    private bool TryReadArguments(ref SequenceReader<byte> reader, in ReadOnlySequence<byte> input, long maxMessageSize, long commandAt, out RespCommand message)
    {
        message = default;
        for (; _parsed < _count; _parsed++)
        {
            if (_pendingLength < 0)
            {
                if (!reader.TryPeek(out var type))
                {
                    return false;
                }

                if (type != (byte)'$')
                {
                    throw new ProtocolException($"Protocol error: expected '$', got '{(char)type}'");
                }

                reader.Advance(1);
                if (!TryReadLength(ref reader, out var length))
                {
                    // Resume at the '$': the header is read again, a few bytes at most.
                    BytesScanned += reader.Remaining;
                    reader.Rewind(1);
                    return false;
                }

                if (length < 0)
                {
                    throw InvalidLength(multibulk: false);
                }

                // Compared as what is left of the maximum: a length near long.MaxValue added to the bytes before it
                // would overflow (a fuzz finding, docs/fuzzing.md).
                if (length > maxMessageSize - (reader.Consumed - commandAt))
                {
                    throw ProtocolException.MessageTooLarge(maxMessageSize);
                }

                _pendingLength = length;
            }

            // The bytes are skipped by their length, never scanned; until they are all there, resume at their start.
            if (reader.Remaining < _pendingLength + 2)
            {
                return false;
            }

            reader.Advance(_pendingLength);
            if (!reader.IsNext("\r\n"u8, advancePast: true))
            {
                throw new ProtocolException("Protocol error: a bulk string does not end with CRLF");
            }

            _pendingLength = -1;
        }

        message = new RespCommand(input.Slice(_bodyStart, reader.Position), _count, inline: false);
        return true;
    }

    /// <summary>Reads an inline command's line, searching for its end from where the last call stopped.</summary>
    private bool TryReadLine(ref SequenceReader<byte> reader, in ReadOnlySequence<byte> input, long maxMessageSize, long commandAt, out RespCommand message)
    {
        message = default;
        var limit = Math.Min(maxMessageSize, MaxInlineLength);
        if (!reader.TryAdvanceTo((byte)'\n', advancePastDelimiter: false))
        {
            reader.AdvanceToEnd();
            if (reader.Consumed - commandAt > limit)
            {
                throw new ProtocolException("Protocol error: too big inline request");
            }

            return false;
        }

        if (reader.Consumed - commandAt > limit)
        {
            throw new ProtocolException("Protocol error: too big inline request");
        }

        var line = input.Slice(_commandStart, reader.Position);
        reader.Advance(1);
        if (!line.IsEmpty && line.Slice(line.Length - 1).FirstSpan[0] == (byte)'\r')
        {
            line = line.Slice(0, line.Length - 1);
        }

        ReadOnlySpan<byte> text;
        if (line.IsSingleSegment)
        {
            text = line.FirstSpan;
        }
        else
        {
            _lineCopy ??= new ArrayBufferWriter<byte>();
            _lineCopy.ResetWrittenCount();
            line.CopyTo(_lineCopy.GetSpan((int)line.Length));
            _lineCopy.Advance((int)line.Length);
            text = _lineCopy.WrittenSpan;
        }

        _inlineWords ??= new ArrayBufferWriter<byte>();
        var count = SplitWords(text, _inlineWords, _inlineWord ??= new ArrayBufferWriter<byte>());
        message = new RespCommand(new ReadOnlySequence<byte>(_inlineWords.WrittenMemory), count, inline: true);
        return true;
    }

    /// <summary>
    /// Splits an inline line into words as Redis's <c>sdssplitargs</c> does, and writes each to <paramref name="words"/>
    /// as a bulk string (<c>$&lt;length&gt;\r\n&lt;bytes&gt;\r\n</c>), the form a command's words take.
    /// </summary>
    /// <param name="line">The line, without its end.</param>
    /// <param name="words">Where the words go (cleared first).</param>
    /// <param name="word">A buffer for one word (cleared first).</param>
    /// <returns>How many words the line has.</returns>
    /// <exception cref="ProtocolException">A quote is not closed, or a closing quote is followed by more than a space.</exception>
    internal static int SplitWords(ReadOnlySpan<byte> line, ArrayBufferWriter<byte> words, ArrayBufferWriter<byte> word)
    {
        words.ResetWrittenCount();
        var count = 0;
        var p = 0;
        while (true)
        {
            while (p < line.Length && IsSpace(line[p]))
            {
                p++;
            }

            if (p == line.Length)
            {
                return count;
            }

            word.ResetWrittenCount();
            byte quote = 0;     // inside a quoted part: the quote that closes it
            while (true)
            {
                if (p == line.Length)
                {
                    if (quote != 0)
                    {
                        throw new ProtocolException("Protocol error: unbalanced quotes in request");
                    }

                    break;
                }

                var c = line[p++];
                if (quote == 0)
                {
                    if (c is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
                    {
                        break;
                    }

                    if (c is (byte)'"' or (byte)'\'')
                    {
                        quote = c;      // a quote inside a word opens a quoted part, as in Redis: a"b c" is one word
                        continue;
                    }
                }
                else if (c == quote)
                {
                    // The closing quote ends the word, and must be followed by a space or the end of the line.
                    if (p < line.Length && !IsSpace(line[p]))
                    {
                        throw new ProtocolException("Protocol error: unbalanced quotes in request");
                    }

                    break;
                }
                else if (c == (byte)'\\' && p < line.Length)
                {
                    if (quote == (byte)'"' && line[p] == (byte)'x' && p + 2 < line.Length && IsHex(line[p + 1]) && IsHex(line[p + 2]))
                    {
                        c = (byte)((HexValue(line[p + 1]) << 4) | HexValue(line[p + 2]));
                        p += 3;
                    }
                    else if (quote == (byte)'"')
                    {
                        c = line[p++] switch
                        {
                            (byte)'n' => (byte)'\n',
                            (byte)'r' => (byte)'\r',
                            (byte)'t' => (byte)'\t',
                            (byte)'b' => (byte)'\b',
                            (byte)'a' => (byte)'\a',
                            var other => other,
                        };
                    }
                    else if (line[p] == (byte)'\'')
                    {
                        c = line[p++];      // in single quotes, only \' is an escape
                    }
                }

                word.Write([c]);
            }

            WriteBulk(words, word.WrittenSpan);
            count++;
        }

        static bool IsSpace(byte c) => c is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\v' or (byte)'\f' or (byte)'\r';

        static bool IsHex(byte c) => char.IsAsciiHexDigit((char)c);

        static int HexValue(byte c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
    }

    private static void WriteBulk(ArrayBufferWriter<byte> output, ReadOnlySpan<byte> value)
    {
        var span = output.GetSpan(value.Length + MaxHeaderLength);
        span[0] = (byte)'$';
        Utf8Formatter.TryFormat(value.Length, span[1..], out var digits);
        "\r\n"u8.CopyTo(span[(1 + digits)..]);
        value.CopyTo(span[(3 + digits)..]);
        "\r\n"u8.CopyTo(span[(3 + digits + value.Length)..]);
        output.Advance(3 + digits + value.Length + 2);
    }
}
