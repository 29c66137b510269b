using System.Buffers;
using System.Net;
using System.Net.Sockets;

namespace Sockeye.Protocols;

/// <summary>
/// Parses the PROXY protocol header that a proxy puts in front of a relayed connection, version 1 (text) or 2 (binary),
/// as HAProxy's <c>doc/proxy-protocol.txt</c> specifies it. Strict: anything that does not match exactly is rejected,
/// since the header decides who the server believes its client is.
/// </summary>
internal static class ProxyHeaderParser
{
    /// <summary>The longest version 1 line, CRLF included: "PROXY UNKNOWN" with two full IPv6 addresses and ports (spec 2.1).</summary>
    public const int MaxV1Length = 107;

    // Six groups and a dotted IPv4 address: "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" (INET6_ADDRSTRLEN - 1).
    private const int MaxIPv6TextLength = 45;

    private static readonly SearchValues<byte> s_ipv6Characters = SearchValues.Create("0123456789abcdefABCDEF:."u8);

    private static ReadOnlySpan<byte> V1Prefix => "PROXY "u8;

    private static ReadOnlySpan<byte> Tcp4 => "TCP4"u8;

    private static ReadOnlySpan<byte> Tcp6 => "TCP6"u8;

    private static ReadOnlySpan<byte> Unknown => "UNKNOWN"u8;

    /// <summary>Parses the header at the start of <paramref name="buffer"/>.</summary>
    /// <param name="buffer">What the peer has sent so far.</param>
    /// <param name="maxV2Length">The largest version 2 header accepted, fixed part included.</param>
    /// <param name="header">The header, when this returns <see langword="true"/>.</param>
    /// <returns><see langword="false"/> when the bytes so far are a valid beginning and more are needed.</returns>
    /// <exception cref="ProxyProtocolException">The bytes cannot begin a valid header.</exception>
    public static bool TryParse(in ReadOnlySequence<byte> buffer, int maxV2Length, out ProxyHeader header)
    {
        header = default;
        if (buffer.IsEmpty)
        {
            return false;
        }

        // The two formats differ in their first byte ('\r' against 'P'), so one byte picks the parser (spec 2.2).
        return buffer.FirstSpan[0] == ProxyHeaderV2.Signature[0]
            ? ProxyHeaderV2.TryParse(buffer, maxV2Length, out header)
            : TryParseV1(buffer, out header);
    }

    private static bool TryParseV1(in ReadOnlySequence<byte> buffer, out ProxyHeader header)
    {
        header = default;
        var available = (int)Math.Min(buffer.Length, MaxV1Length);
        Span<byte> line = stackalloc byte[MaxV1Length];
        line = line[..available];
        buffer.Slice(0, available).CopyTo(line);

        // Reject a wrong prefix as soon as it shows, instead of waiting for a line that will never be valid.
        var prefixLength = Math.Min(available, V1Prefix.Length);
        if (!line[..prefixLength].SequenceEqual(V1Prefix[..prefixLength]))
        {
            throw new ProxyProtocolException("Not a PROXY protocol header.");
        }

        // The spec forbids ending the line with a lone CR or LF.
        var end = line.IndexOfAny((byte)'\r', (byte)'\n');
        if (end >= 0 && (line[end] == '\n' || (end + 1 < available && line[end + 1] != '\n')))
        {
            throw new ProxyProtocolException("A version 1 header line must end with CRLF.");
        }

        if (end < 0 || end + 1 == available)
        {
            return available < MaxV1Length
                ? false
                : throw new ProxyProtocolException($"No CRLF within the first {MaxV1Length} bytes of a version 1 header.");
        }

        header = ParseV1Fields(line[V1Prefix.Length..end], end + 2);
        return true;
    }

    private static ProxyHeader ParseV1Fields(ReadOnlySpan<byte> fields, int length)
    {
        // "UNKNOWN" may be followed by anything up to the CRLF, which the receiver ignores.
        if (fields.StartsWith(Unknown) && (fields.Length == Unknown.Length || fields[Unknown.Length] == ' '))
        {
            return ProxyHeader.KeepRealEndPoints(length);
        }

        Span<Range> parts = stackalloc Range[6];
        var count = 0;
        foreach (var range in fields.Split((byte)' '))
        {
            if (count == parts.Length)
            {
                break;
            }

            parts[count++] = range;
        }

        var protocol = fields[parts[0]];
        var family = protocol.SequenceEqual(Tcp4) ? AddressFamily.InterNetwork
            : protocol.SequenceEqual(Tcp6) ? AddressFamily.InterNetworkV6
            : throw new ProxyProtocolException("A version 1 header must name TCP4, TCP6 or UNKNOWN.");
        if (count != 5)
        {
            throw new ProxyProtocolException("A version 1 header needs exactly four fields after the protocol, one space apart.");
        }

        var source = ParseAddress(fields[parts[1]], family);
        var destination = ParseAddress(fields[parts[2]], family);
        var sourcePort = ParsePort(fields[parts[3]]);
        var destinationPort = ParsePort(fields[parts[4]]);
        return new ProxyHeader(length, IsLocal: false, new IPEndPoint(source, sourcePort), new IPEndPoint(destination, destinationPort));
    }

    private static IPAddress ParseAddress(ReadOnlySpan<byte> text, AddressFamily family)
    {
        var address = family == AddressFamily.InterNetwork ? ParseIPv4(text) : ParseIPv6(text);
        return address ?? throw new ProxyProtocolException(
            $"A version 1 header has an invalid {(family == AddressFamily.InterNetwork ? "IPv4" : "IPv6")} address.");
    }

    /// <summary>Exactly four decimal numbers from 0 to 255 without leading zeros (which could be read as octal).</summary>
    private static IPAddress? ParseIPv4(ReadOnlySpan<byte> text)
    {
        Span<byte> octets = stackalloc byte[4];
        var count = 0;
        foreach (var range in text.Split((byte)'.'))
        {
            if (count == octets.Length || !TryParseDecimal(text[range], byte.MaxValue, out var octet))
            {
                return null;
            }

            octets[count++] = (byte)octet;
        }

        return count == octets.Length ? new IPAddress(octets) : null;
    }

    /// <summary>
    /// Hexadecimal groups and colons, and an IPv4 address as the last 32 bits (<c>::ffff:192.0.2.1</c>) held to the same
    /// rules as a TCP4 one; no scope, no brackets. The spec shows groups only, but HAProxy writes its addresses with
    /// <c>inet_ntop</c>, which puts an IPv4-mapped one (a client on IPv4 behind a dual-stack bind, or a TCP6 line for a
    /// mixed pair) in that form, and reads them with <c>inet_pton</c>, which takes it.
    /// </summary>
    private static IPAddress? ParseIPv6(ReadOnlySpan<byte> text)
    {
        if (text.Length > MaxIPv6TextLength || text.ContainsAnyExcept(s_ipv6Characters))
        {
            return null;
        }

        if (text.IndexOf((byte)'.') >= 0 && ParseIPv4(text[(text.LastIndexOf((byte)':') + 1)..]) is null)
        {
            return null;
        }

        Span<char> chars = stackalloc char[MaxIPv6TextLength];
        for (var i = 0; i < text.Length; i++)
        {
            chars[i] = (char)text[i];
        }

        return IPAddress.TryParse(chars[..text.Length], out var address) && address.AddressFamily == AddressFamily.InterNetworkV6
            ? address
            : null;
    }

    private static int ParsePort(ReadOnlySpan<byte> text) =>
        TryParseDecimal(text, ushort.MaxValue, out var port)
            ? port
            : throw new ProxyProtocolException("A version 1 header has an invalid port.");

    /// <summary>A decimal number from 0 to <paramref name="max"/>, without sign or leading zeros.</summary>
    private static bool TryParseDecimal(ReadOnlySpan<byte> text, int max, out int value)
    {
        value = 0;
        if (text.IsEmpty || text.Length > 5 || (text.Length > 1 && text[0] == '0'))
        {
            return false;
        }

        foreach (var digit in text)
        {
            if (digit is < (byte)'0' or > (byte)'9')
            {
                return false;
            }

            value = (value * 10) + (digit - '0');
        }

        return value <= max;
    }
}
