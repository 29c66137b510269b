using System.Globalization;

namespace Sockeye.Cli;

/// <summary>
/// A size in bytes as people write it on a command line: <c>1048576</c>, <c>64KiB</c>, <c>1.5 MiB</c>.
/// Suffixes are binary (K, KiB = 1024; M, MiB = 1024²; G, GiB = 1024³), case-insensitive, with or without a space.
/// </summary>
internal readonly record struct ByteSize(long Bytes)
{
    private static readonly (string Suffix, long Factor)[] s_suffixes =
    [
        ("GiB", 1L << 30), ("MiB", 1L << 20), ("KiB", 1L << 10),
        ("G", 1L << 30), ("M", 1L << 20), ("K", 1L << 10),
        ("B", 1),
    ];

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

        var bytes = number * factor;
        if (bytes > long.MaxValue || bytes != decimal.Truncate(bytes))
        {
            return false;
        }

        size = new ByteSize((long)bytes);
        return true;
    }

    /// <summary>The shortest exact form: <c>1MiB</c>, <c>64KiB</c>, or plain bytes.</summary>
    public override string ToString()
    {
        foreach (var (suffix, factor) in s_suffixes.Where(s => s.Suffix.Length == 3))
        {
            if (Bytes >= factor && Bytes % factor == 0)
            {
                return string.Create(CultureInfo.InvariantCulture, $"{Bytes / factor}{suffix}");
            }
        }

        return Bytes.ToString(CultureInfo.InvariantCulture);
    }
}
