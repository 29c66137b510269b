using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Sockeye.Protocols;

namespace Sockeye.Fuzz;

/// <summary>
/// Fuzz cases for the PROXY protocol header parser, as a load balancer's (or an attacker's) first bytes reach it.
/// Only <see cref="ProxyProtocolException"/> may escape. The promises, else <see cref="InvalidOperationException"/>:
/// the bytes arriving one at a time give "need more" until the answer, then the same answer however many more bytes
/// follow (a header is never accepted early, never rejected late, never two different headers); a header's length
/// lies within the bytes given and the format's bounds; the endpoints it reports, written again as a header of the
/// same version, parse back to the same endpoints.
/// </summary>
public static class ProxyHeaderTarget
{
    /// <summary>Version 1: the input as it arrives.</summary>
    public static void V1(ReadOnlySpan<byte> data) => Run(data.ToArray(), ProxyHeaderV2.MaxLength);

    /// <summary>
    /// Version 2: the 12-byte signature, then the input (so the fuzzer spends its time past the signature, on the
    /// command, family, length, addresses and TLVs). The first input byte's top bit halves the largest header allowed.
    /// </summary>
    public static void V2(ReadOnlySpan<byte> data)
    {
        var maxLength = !data.IsEmpty && data[0] >= 0x80 ? ProxyHeaderV2.MaxLength / 2 : ProxyHeaderV2.MaxLength;
        Run([.. ProxyHeaderV2.Signature, .. data], maxLength);
    }

    private static void Run(byte[] bytes, int maxLength)
    {
        var whole = Outcome(new ReadOnlySequence<byte>(bytes), maxLength);
        if (whole.Header is { } header)
        {
            CheckHeader(bytes, header, maxLength);
        }

        // Every prefix shorter than the answer needs more; every prefix that holds it gives the same answer.
        var decidedAt = whole.Kind == Kind.NeedMore ? bytes.Length : FirstDecidingLength(bytes, maxLength);
        foreach (var length in PrefixLengths(bytes.Length, decidedAt))
        {
            var prefix = bytes.AsSpan(0, length).ToArray();
            var expected = length < decidedAt ? Kind.NeedMore : whole.Kind;
            var outcome = Outcome(SegmentedSequence.SplitAt(prefix, length / 2), maxLength);
            if (outcome.Kind != expected || (expected == Kind.Header && outcome.Header != whole.Header))
            {
                throw new InvalidOperationException(
                    $"The first {length} of {bytes.Length} bytes gave {outcome.Kind} {outcome.Header}; expected {expected} {(expected == Kind.Header ? whole.Header : null)}.");
            }
        }
    }

    /// <summary>Every length up to a few hundred bytes, then those around the deciding one and the whole: a long case stays fast.</summary>
    private static IEnumerable<int> PrefixLengths(int total, int decidedAt)
    {
        const int Every = 300;
        return Enumerable.Range(0, Math.Min(total, Every) + 1)
            .Concat([decidedAt - 1, decidedAt, decidedAt + 1, total])
            .Where(length => length >= 0 && length <= total)
            .Distinct();
    }

    /// <summary>The shortest prefix that decides: the header's length, or the first byte that makes it invalid.</summary>
    private static int FirstDecidingLength(byte[] bytes, int maxLength)
    {
        for (var length = 1; length <= bytes.Length; length++)
        {
            if (Outcome(new ReadOnlySequence<byte>(bytes, 0, length), maxLength).Kind != Kind.NeedMore)
            {
                return length;
            }
        }

        return bytes.Length;
    }

    private static void CheckHeader(byte[] bytes, ProxyHeader header, int maxLength)
    {
        var isV1 = bytes[0] == (byte)'P';
        var limit = isV1 ? ProxyHeaderParser.MaxV1Length : maxLength;
        if (header.Length < (isV1 ? 8 : ProxyHeaderV2.FixedLength) || header.Length > Math.Min(limit, bytes.Length))
        {
            throw new InvalidOperationException($"A header of {header.Length} bytes from {bytes.Length} (limit {limit}).");
        }

        if ((header.Source is null) != (header.Destination is null) || (header.IsLocal && header.Source is not null))
        {
            throw new InvalidOperationException($"A header with source {header.Source}, destination {header.Destination}, local {header.IsLocal}.");
        }

        if (header.Source is not { } source || header.Destination is not { } destination)
        {
            return;
        }

        if (source.AddressFamily != destination.AddressFamily)
        {
            throw new InvalidOperationException($"A header mixes address families: {source} and {destination}.");
        }

        var again = isV1 ? WriteV1(source, destination) : WriteV2(source, destination);
        var reread = Outcome(new ReadOnlySequence<byte>(again), maxLength);
        if (reread.Header is not { } copy || copy.Source?.Equals(source) != true || copy.Destination?.Equals(destination) != true || copy.Length != again.Length)
        {
            throw new InvalidOperationException($"{source} -> {destination}, written again as {Convert.ToHexString(again)}, read back as {reread.Kind} {reread.Header}.");
        }
    }

    private static byte[] WriteV1(IPEndPoint source, IPEndPoint destination)
    {
        var family = source.AddressFamily == AddressFamily.InterNetwork ? "TCP4" : "TCP6";
        return Encoding.ASCII.GetBytes($"PROXY {family} {source.Address} {destination.Address} {source.Port} {destination.Port}\r\n");
    }

    private static byte[] WriteV2(IPEndPoint source, IPEndPoint destination)
    {
        var size = source.AddressFamily == AddressFamily.InterNetwork ? 4 : 16;
        var header = new byte[ProxyHeaderV2.FixedLength + (2 * size) + 4];
        ProxyHeaderV2.Signature.CopyTo(header);
        header[12] = 0x21;
        header[13] = size == 4 ? (byte)0x11 : (byte)0x21;
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(14), (ushort)(header.Length - ProxyHeaderV2.FixedLength));
        source.Address.TryWriteBytes(header.AsSpan(16), out _);
        destination.Address.TryWriteBytes(header.AsSpan(16 + size), out _);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(16 + (2 * size)), (ushort)source.Port);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(18 + (2 * size)), (ushort)destination.Port);
        return header;
    }

    private static (Kind Kind, ProxyHeader? Header) Outcome(ReadOnlySequence<byte> buffer, int maxLength)
    {
        try
        {
            return ProxyHeaderParser.TryParse(buffer, maxLength, out var header) ? (Kind.Header, header) : (Kind.NeedMore, null);
        }
        catch (ProxyProtocolException)
        {
            return (Kind.Invalid, null);
        }
    }

    private enum Kind
    {
        NeedMore,
        Header,
        Invalid,
    }
}
