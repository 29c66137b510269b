using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Reflection;

namespace Sockeye.Hosting;

/// <summary>
/// The simple settings of an options type: every public read-write property of a number, <see cref="bool"/>,
/// <see cref="TimeSpan"/>, <see cref="string"/> or enum type, or a nullable one, is a configuration key of the same
/// name. An option added to the library is configurable at once, with no line to add here.
/// </summary>
/// <remarks>
/// Not the configuration binder: it throws on a typo only when asked to, reads durations as <c>30</c> days where
/// people mean seconds, and binds by reflection over any type, which trimming cannot follow. This knows its
/// two types, which the trimmer keeps the properties of, and says which key is wrong and why.
/// </remarks>
internal static class SettingsBinder
{
    private const string Infinite = "Infinite";

    public static IReadOnlyList<PropertyInfo> Settings([DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)] Type type) =>
        [.. type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(property => property.GetSetMethod() is not null && property.GetGetMethod() is not null && IsSimple(property.PropertyType))
            .OrderBy(property => property.Name, StringComparer.Ordinal)];

    /// <summary>Sets <paramref name="property"/> from <paramref name="text"/>, or returns why it cannot.</summary>
    public static string? TrySet(object target, PropertyInfo property, string? text, string path)
    {
        var nullable = Nullable.GetUnderlyingType(property.PropertyType);
        var type = nullable ?? property.PropertyType;
        var trimmed = text?.Trim();
        object? value;
        if (nullable is not null && (string.IsNullOrEmpty(trimmed) || trimmed == "null"))
        {
            // A nullable setting (a limit that can be off, say) is cleared by an empty value or null.
            value = null;
        }
        else if (!TryParse(type, trimmed, out value))
        {
            return $"{path}: '{text}' is not {Describe(type)}{(nullable is null ? string.Empty : " or null")}.";
        }

        property.SetValue(target, value);
        return null;
    }

    /// <summary>A value as <see cref="TrySet"/> reads it back.</summary>
    public static string? Format(object? value) => value switch
    {
        TimeSpan duration when duration == Timeout.InfiniteTimeSpan => Infinite,
        // Exact: a tick is 100 ns, so seconds have at most seven decimals, which decimal holds and double does not.
        TimeSpan duration => (duration.Ticks / (decimal)TimeSpan.TicksPerSecond).ToString(CultureInfo.InvariantCulture),
        bool flag => flag ? "true" : "false",
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value?.ToString(),
    };

    private static bool IsSimple(Type type) => IsSimpleValue(Nullable.GetUnderlyingType(type) ?? type);

    private static bool IsSimpleValue(Type type) =>
        type == typeof(int) || type == typeof(long) || type == typeof(double) || type == typeof(bool) ||
        type == typeof(TimeSpan) || type == typeof(string) || type.IsEnum;

    private static bool TryParse(Type type, string? text, out object? value)
    {
        value = null;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        var culture = CultureInfo.InvariantCulture;
        if (type == typeof(string))
        {
            value = text;
        }
        else if (type == typeof(int) && int.TryParse(text, NumberStyles.AllowLeadingSign, culture, out var int32))
        {
            value = int32;
        }
        else if (type == typeof(long) && long.TryParse(text, NumberStyles.AllowLeadingSign, culture, out var int64))
        {
            value = int64;
        }
        else if (type == typeof(double) && double.TryParse(text, NumberStyles.Float, culture, out var number) && double.IsFinite(number))
        {
            value = number;
        }
        else if (type == typeof(bool) && bool.TryParse(text, out var flag))
        {
            value = flag;
        }
        else if (type == typeof(TimeSpan) && TryParseDuration(text, out var duration))
        {
            value = duration;
        }
        else if (IsFlags(type))
        {
            // Flags (TLS's protocols): a list of defined names, "Tls12, Tls13" (a configuration list arrives joined so).
            value = TryParseFlags(type, text);
        }
        else if (type.IsEnum && DefinedName(type, text) is { } name)
        {
            // One defined name only: Enum.TryParse would also take numbers ("5", "+5") and lists ("Wait, Disconnect").
            value = Enum.Parse(type, name);
        }

        return value is not null;
    }

    private static bool IsFlags(Type type) => type.IsEnum && type.IsDefined(typeof(FlagsAttribute), inherit: false);

    private static string? DefinedName(Type type, string text) =>
        Array.Find(Enum.GetNames(type), name => name.Equals(text.Trim(), StringComparison.OrdinalIgnoreCase));

    /// <summary>The names of a flags enum, each defined (no numbers), joined; null if one is not.</summary>
    private static object? TryParseFlags(Type type, string text)
    {
        ulong flags = 0;
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (DefinedName(type, part) is not { } name)
            {
                return null;
            }

            flags |= Convert.ToUInt64(Enum.Parse(type, name), CultureInfo.InvariantCulture);
        }

        return Enum.ToObject(type, flags);
    }

    /// <summary>Seconds (<c>30</c>, <c>2.5</c>), a .NET time span (<c>00:00:30</c>), or <c>Infinite</c>.</summary>
    private static bool TryParseDuration(string text, out TimeSpan duration)
    {
        if (text.Equals(Infinite, StringComparison.OrdinalIgnoreCase))
        {
            duration = Timeout.InfiniteTimeSpan;
            return true;
        }

        // A bare number is seconds: TimeSpan.Parse would read "30" as thirty days. Read as a decimal and rounded to the
        // nearest tick, so what Format prints reads back as the same duration (a double lost the last tick: a fuzz
        // finding, docs/fuzzing.md).
        if (decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
        {
            var valid = Math.Abs(seconds) <= TimeSpan.MaxValue.Ticks / (decimal)TimeSpan.TicksPerSecond;
            duration = valid ? TimeSpan.FromTicks((long)Math.Round(seconds * TimeSpan.TicksPerSecond, MidpointRounding.AwayFromZero)) : default;
            return valid;
        }

        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out duration);
    }

    private static string Describe(Type type) =>
        type == typeof(int) || type == typeof(long) ? "a whole number"
        : type == typeof(double) ? "a number"
        : type == typeof(bool) ? "true or false"
        : type == typeof(TimeSpan) ? "a number of seconds (such as 30 or 2.5), a time span (00:00:30) or Infinite"
        : IsFlags(type) ? $"a list of {string.Join(", ", Enum.GetNames(type))}"
        : type.IsEnum ? $"one of {string.Join(", ", Enum.GetNames(type))}"
        : "a value";
}
