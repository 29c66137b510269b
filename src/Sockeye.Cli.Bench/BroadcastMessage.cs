using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Sockeye.Cli.Bench;

/// <summary>
/// One message of the broadcast workload: a line of exactly <c>size</c> bytes that says who sent it, its place in that
/// publisher's stream and when it was queued, and proves its own bytes.
/// </summary>
/// <remarks>
/// <para>
/// Layout, all ASCII so any line-framed server relays it and <c>nc</c> shows it: the publisher (3 hex digits), the
/// sequence number (9), the time it was queued in 100 ns units since an hour before the generator started (10), padding (letters of
/// <see cref="Payload"/> from a point the publisher and sequence number fix), a checksum of the header (FNV-1a, 8 hex
/// digits), and <c>\n</c>.
/// </para>
/// <para>
/// A subscriber checks every byte: the header against its checksum, the padding byte for byte against what that header
/// says it must be, the length (the <c>\n</c> at the end and nowhere else), and the sequence number against the last
/// one from the same publisher, so a lost, duplicated, reordered, cut or corrupted message is an error, never a count.
/// The checksum covers the header only: the padding is compared whole (vectorized) with what was sent, which proves
/// more than a checksum would, and a byte-at-a-time hash over a kilobyte cost the generator more than everything else
/// it does per message.
/// </para>
/// <para>
/// The subscribers run these checks millions of times a second from the first message of a run, so the methods are
/// compiled optimized at once (<see cref="MethodImplOptions.AggressiveOptimization"/>) rather than starting in tier 0,
/// whose loops call into the runtime at every patchpoint until the method is recompiled, seconds later on a busy machine.
/// </para>
/// </remarks>
internal static class BroadcastMessage
{
    public const int MinSize = 32;

    public const int MaxSize = 64 * 1024;

    public const int MaxPublishers = 0xFFF;

    private const int PublisherDigits = 3;
    private const int SequenceDigits = 9;
    private const int TimeDigits = 10;
    private const int ChecksumDigits = 8;
    private const int HeaderLength = PublisherDigits + SequenceDigits + TimeDigits;

    // An hour before the class was first used, so a time taken a moment before that (the publisher's first batch is
    // timed before its first message is written) is still after the epoch.
    private static readonly long s_epoch = Stopwatch.GetTimestamp() - (Stopwatch.Frequency * 3600);

    // Stopwatch ticks per 100 ns, the unit of the queued time (10 hex digits of it last 30 hours).
    private static readonly double s_ticksPerUnit = Stopwatch.Frequency / 10_000_000.0;

    /// <summary>Writes message <paramref name="sequence"/> of <paramref name="publisher"/> into <paramref name="destination"/> (exactly its size).</summary>
    public static void Write(Span<byte> destination, int publisher, long sequence, long queuedAt)
    {
        var size = destination.Length;
        WriteHex(destination[..PublisherDigits], (ulong)publisher);
        WriteHex(destination.Slice(PublisherDigits, SequenceDigits), (ulong)sequence);
        WriteHex(destination.Slice(PublisherDigits + SequenceDigits, TimeDigits), (ulong)ToUnits(queuedAt));
        Payload.CopyTo(PaddingStart(publisher, sequence, size), destination[HeaderLength..(size - ChecksumDigits - 1)]);
        WriteHex(destination.Slice(size - ChecksumDigits - 1, ChecksumDigits), Checksum(destination[..HeaderLength]));
        destination[size - 1] = (byte)'\n';
    }

    /// <summary>
    /// Checks one received line of the expected size; on success gives its publisher, sequence number and the
    /// <see cref="Stopwatch"/> timestamp it was queued at, otherwise says what is wrong.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static string? Read(ReadOnlySpan<byte> line, int publishers, out int publisher, out long sequence, out long queuedAt)
    {
        publisher = -1;
        sequence = -1;
        queuedAt = 0;
        var size = line.Length;
        var newline = line.IndexOf((byte)'\n');
        if (newline != size - 1)
        {
            return newline < 0
                ? $"a message longer than {size} bytes"
                : $"a message of {newline + 1} bytes, not {size}";
        }

        var body = line[..(size - ChecksumDigits - 1)];
        if (!TryReadHex(line.Slice(size - ChecksumDigits - 1, ChecksumDigits), out var checksum) || checksum != Checksum(body[..HeaderLength]))
        {
            return "a corrupt message (its checksum does not match)";
        }

        if (!TryReadHex(line[..PublisherDigits], out var from) || from >= (ulong)publishers ||
            !TryReadHex(line.Slice(PublisherDigits, SequenceDigits), out var number) ||
            !TryReadHex(line.Slice(PublisherDigits + SequenceDigits, TimeDigits), out var units))
        {
            return "a message with a header no publisher wrote";
        }

        publisher = (int)from;
        sequence = (long)number;
        if (!Payload.Matches(PaddingStart(publisher, sequence, size), body[HeaderLength..]))
        {
            return $"a corrupt message (message {sequence} of publisher {publisher}: its padding differs from what was sent)";
        }

        queuedAt = s_epoch + (long)(units * s_ticksPerUnit);
        return null;
    }

    private static long ToUnits(long timestamp) => (long)((timestamp - s_epoch) / s_ticksPerUnit);

    private static long PaddingStart(int publisher, long sequence, int size) =>
        Payload.StartFor(publisher) + (sequence * (size - HeaderLength - ChecksumDigits - 1) % Payload.Period);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static uint Checksum(ReadOnlySpan<byte> bytes)
    {
        var hash = 2166136261u;
        foreach (var b in bytes)
        {
            hash = (hash ^ b) * 16777619u;
        }

        return hash;
    }

    private static void WriteHex(Span<byte> destination, ulong value)
    {
        for (var i = destination.Length - 1; i >= 0; i--)
        {
            destination[i] = (byte)"0123456789abcdef"[(int)(value & 0xF)];
            value >>= 4;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TryReadHex(ReadOnlySpan<byte> digits, out ulong value)
    {
        // One table look-up per digit: 0-15 for '0'-'9' and 'a'-'f', 0xFF for anything else, or-ed together to check once.
        var table = HexValues;
        value = 0;
        var invalid = 0;
        foreach (var digit in digits)
        {
            var nibble = table[digit];
            invalid |= nibble;
            value = (value << 4) | (nibble & 0xFu);
        }

        return invalid < 0x10;
    }

    private static ReadOnlySpan<byte> HexValues =>
    [
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 10, 11, 12, 13, 14, 15, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    ];
}

/// <summary>
/// What one subscriber has received from each publisher, and whether each new message follows on from it. The first
/// message from a publisher may be any: a subscriber that the server registered a moment after the publisher began
/// misses the start, which is no fault (counted as a late join); from then on, every message must be the next one.
/// </summary>
internal sealed class DeliveryOrder
{
    private readonly long[] _last;

    public DeliveryOrder(int publishers)
    {
        _last = new long[publishers];
        Array.Fill(_last, -1);
    }

    /// <summary>Subscriber and publisher pairs whose first message was not the publisher's first.</summary>
    public int LateJoins { get; private set; }

    /// <summary>The last sequence number received from <paramref name="publisher"/>, or -1.</summary>
    public long Last(int publisher) => Volatile.Read(ref _last[publisher]);

    /// <summary>Takes message <paramref name="sequence"/> of <paramref name="publisher"/>; returns what is wrong with its place, or null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public string? Accept(int publisher, long sequence)
    {
        var last = _last[publisher];
        if (last < 0)
        {
            if (sequence > 0)
            {
                LateJoins++;
            }
        }
        else if (sequence != last + 1)
        {
            return sequence > last + 1
                ? $"lost messages {last + 1}-{sequence - 1} of publisher {publisher} (got {sequence} after {last})"
                : $"message {sequence} of publisher {publisher} out of order or twice (after {last})";
        }

        Volatile.Write(ref _last[publisher], sequence);
        return null;
    }
}
