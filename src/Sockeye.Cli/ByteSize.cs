using System.Globalization;

namespace Sockeye.Cli;

/// <summary>
/// A size in bytes as people write it on a command line: <c>1048576</c>, <c>64KiB</c>, <c>1.5 MiB</c>, <c>1MB</c>.
/// </summary>
/// <remarks>
/// The suffixes mean what they mean to GNU coreutils (<c>dd</c>, <c>du</c>, <c>sort -S</c>) and to IEC 80000-13:
/// K, KiB = 1024, M, MiB = 1024², G, GiB = 1024³ (the binary multiples, which is what a buffer size usually is;
/// Kubernetes' Ki, Mi and Gi too); KB = 1000, MB = 1000², GB = 1000³ (the decimal ones, as a disk's size is
/// written). Case and a space before the suffix do not matter.
/// </remarks>
internal readonly record struct ByteSize(long Bytes)
{
    // Longest first, so "MiB" is not read as "B" after a number "1Mi", nor "MB" as "B".
    private static readonly (string Suffix, long Factor)[] s_suffixes =
    [
        ("GiB", 1L << 30), ("MiB", 1L << 20), ("KiB", 1L << 10),
        ("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1_000),
        ("Gi", 1L << 30), ("Mi", 1L << 20), ("Ki", 1L << 10),
        ("G", 1L << 30), ("M", 1L << 20), ("K", 1L << 10),
        ("B", 1),
    ];

    // The forms ToString prefers, largest first: binary, then decimal, then plain bytes.
    private static readonly (string Suffix, long Factor)[] s_printed =
    [
        ("GiB", 1L << 30), ("MiB", 1L << 20), ("KiB", 1L << 10),
        ("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1_000),
    ];

    /// <summary>What the suffixes mean, in a few words for error lines.</summary>
    public const string Meaning = "K and KiB are 1024, KB is 1000";

    public static bool TryParse(string? text, out ByteSize size)
    {
        size = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var span = text.AsSpan().Trim();
        long factor = 1;
        foreach (var (suffix, value) in s_suffixes)
        {
            if (span.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                span = span[..^suffix.Length].TrimEnd();
                factor = value;
                break;
            }
        }

        if (!decimal.TryParse(span, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
        {
            return false;
        }

        // Checked before multiplying: decimal's own range ends near 7.9e28, and the product would overflow it.
        if (number > long.MaxValue / factor)
        {
            return false;
        }

        var bytes = number * factor;
        if (bytes > long.MaxValue || bytes != decimal.Truncate(bytes))
        {
            return false;
        }

        size = new ByteSize((long)bytes);
        return true;
    }

    /// <summary>The shortest exact form, binary first: <c>1MiB</c>, <c>64KiB</c>, <c>1MB</c>, or plain bytes.</summary>
    public override string ToString()
    {
        foreach (var (suffix, factor) in s_printed)
        {
            if (Bytes >= factor && Bytes % factor == 0)
            {
                return string.Create(CultureInfo.InvariantCulture, $"{Bytes / factor}{suffix}");
            }
        }

        return Bytes.ToString(CultureInfo.InvariantCulture);
    }
}
