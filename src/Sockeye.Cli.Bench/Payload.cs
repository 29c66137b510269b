using System.Runtime.CompilerServices;

namespace Sockeye.Cli.Bench;

/// <summary>
/// What every connection sends: one fixed pseudo-random run of lowercase letters, read from a per-connection
/// starting point. An echo is checked byte for byte against the same run, so nothing sent has to be kept.
/// </summary>
/// <remarks>Letters only: a payload can never contain the <c>&lt;EOF&gt;</c> delimiter by accident.</remarks>
internal static class Payload
{
    /// <summary>The run's length: prime, so messages of any size fall at ever different offsets.</summary>
    public const int Period = 65521;

    /// <summary>The longest contiguous slice <see cref="At"/> hands out.</summary>
    public const int MaxSlice = 256 * 1024;

    // The run, followed by its own repetition up to MaxSlice, so every slice is one contiguous span.
    private static readonly byte[] s_bytes = Build();

    /// <summary>A starting point for connection <paramref name="index"/>, so connections do not all send the same bytes.</summary>
    public static long StartFor(int index) => (long)index * 7919 % Period;

    /// <summary>Up to <paramref name="length"/> (at most <see cref="MaxSlice"/>) bytes of the stream from <paramref name="offset"/>.</summary>
    public static ReadOnlySpan<byte> At(long offset, long length) =>
        s_bytes.AsSpan((int)(offset % Period), (int)Math.Min(length, MaxSlice));

    /// <summary>Copies the stream from <paramref name="offset"/> into <paramref name="destination"/>, filling it.</summary>
    public static void CopyTo(long offset, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            var slice = At(offset, destination.Length);
            slice.CopyTo(destination);
            offset += slice.Length;
            destination = destination[slice.Length..];
        }
    }

    /// <summary>Whether <paramref name="received"/> is what the stream holds at <paramref name="offset"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool Matches(long offset, ReadOnlySpan<byte> received)
    {
        while (!received.IsEmpty)
        {
            var expected = At(offset, received.Length);
            if (!received[..expected.Length].SequenceEqual(expected))
            {
                return false;
            }

            offset += expected.Length;
            received = received[expected.Length..];
        }

        return true;
    }

    private static byte[] Build()
    {
        var bytes = new byte[Period + MaxSlice];
        var random = new Random(20240501);
        for (var i = 0; i < Period; i++)
        {
#pragma warning disable CA5394 // Test data, not security: a fixed seed keeps every run's bytes the same.
            bytes[i] = (byte)('a' + random.Next(26));
#pragma warning restore CA5394
        }

        for (var i = Period; i < bytes.Length; i++)
        {
            bytes[i] = bytes[i - Period];
        }

        return bytes;
    }
}
