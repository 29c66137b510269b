using System.Buffers;
using System.Net;
using System.Text;
using Sockeye.Protocols;
using static Sockeye.Tests.Protocols.ProxyHeaders;

namespace Sockeye.Tests.Protocols;

/// <summary>The PROXY protocol parser against HAProxy's doc/proxy-protocol.txt, section by section.</summary>
public class ProxyHeaderParserTests
{
    private const int MaxLength = ProxyHeaderV2.MaxLength;

    // 2.1: the longest lines the receiver must support, and the short UNKNOWN form.
    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", "192.168.0.1:56324", "192.168.0.11:443")]
    [InlineData("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n", "255.255.255.255:65535", "255.255.255.255:65535")]
    [InlineData("PROXY TCP4 0.0.0.0 10.0.0.1 0 1\r\n", "0.0.0.0:0", "10.0.0.1:1")]
    [InlineData("PROXY TCP6 2001:db8::1 2001:DB8::2 1234 80\r\n", "[2001:db8::1]:1234", "[2001:db8::2]:80")]
    [InlineData("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
        "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535")]
    // IPv4-mapped addresses as HAProxy's inet_ntop writes them: the first, byte for byte, what HAProxy 2.6 (Debian 12)
    // sent with `bind :::18555 v4v6` and `send-proxy` for a client of 127.0.0.1.
    [InlineData("PROXY TCP6 ::ffff:127.0.0.1 ::ffff:127.0.0.1 55330 18555\r\n", "[::ffff:127.0.0.1]:55330", "[::ffff:127.0.0.1]:18555")]
    [InlineData("PROXY TCP6 ::ffff:192.0.2.1 2001:db8::1 1234 80\r\n", "[::ffff:192.0.2.1]:1234", "[2001:db8::1]:80")]
    [InlineData("PROXY TCP6 ::ffff:10.0.0.5 ::ffff:255.255.255.255 1 2\r\n", "[::ffff:10.0.0.5]:1", "[::ffff:255.255.255.255]:2")]
    // What .NET writes for an IPv4-compatible address (the proxy-v1 fuzz target writes headers again with it).
    [InlineData("PROXY TCP6 2001:db8::1 ::0.1.0.1 1 65535\r\n", "[2001:db8::1]:1", "[::1:1]:65535")]
    public Task V1_TCP_headers_give_the_source_and_destination(string line, string source, string destination)
    {
        var header = Parse(V1(line + "payload"));

        Assert.Equal(line.Length, header.Length);
        Assert.False(header.IsLocal);
        Assert.Equal(IPEndPoint.Parse(source), header.Source);
        Assert.Equal(IPEndPoint.Parse(destination), header.Destination);
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("PROXY UNKNOWN\r\n")]
    [InlineData("PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n")]
    [InlineData("PROXY UNKNOWN anything at all, ignored\r\n")]
    public Task V1_UNKNOWN_keeps_the_real_endpoints_and_ignores_the_rest_of_the_line(string line)
    {
        var header = Parse(V1(line));

        Assert.Equal(line.Length, header.Length);
        Assert.Null(header.Source);
        Assert.Null(header.Destination);
        Assert.True(line.Length <= ProxyHeaderParser.MaxV1Length);
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "CRLF")] // a lone LF
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", "CRLF")] // a lone CR
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n\r", "CRLF")]
    [InlineData("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", "TCP4, TCP6 or UNKNOWN")]
    [InlineData("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", "TCP4, TCP6 or UNKNOWN")]
    [InlineData("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", "TCP4, TCP6 or UNKNOWN")]
    [InlineData("PROXY UNKNOWNX\r\n", "TCP4, TCP6 or UNKNOWN")]
    [InlineData("PROXY \r\n", "TCP4, TCP6 or UNKNOWN")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "exactly four fields")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", "exactly four fields")]
    [InlineData("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", "exactly four fields")] // two spaces
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", "exactly four fields")] // a trailing space
    [InlineData("PROXY TCP4 192.168.01.1 5.6.7.8 1 2\r\n", "IPv4")] // a leading zero could be octal
    [InlineData("PROXY TCP4 256.1.1.1 5.6.7.8 1 2\r\n", "IPv4")]
    [InlineData("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", "IPv4")]
    [InlineData("PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n", "IPv4")]
    [InlineData("PROXY TCP4 1.2.3. 5.6.7.8 1 2\r\n", "IPv4")]
    [InlineData("PROXY TCP4 0x7f.0.0.1 5.6.7.8 1 2\r\n", "IPv4")]
    [InlineData("PROXY TCP4 2001:db8::1 5.6.7.8 1 2\r\n", "IPv4")] // the family must match the protocol
    [InlineData("PROXY TCP6 1.2.3.4 ::1 1 2\r\n", "IPv6")]
    [InlineData("PROXY TCP6 ::ffff:01.2.3.4 ::1 1 2\r\n", "IPv6")] // the IPv4 part holds to TCP4's rules
    [InlineData("PROXY TCP6 ::ffff:1.2.3 ::1 1 2\r\n", "IPv6")]
    [InlineData("PROXY TCP6 ::ffff:1.2.3.4.5 ::1 1 2\r\n", "IPv6")]
    [InlineData("PROXY TCP6 ::1.2.3.4:ffff ::1 1 2\r\n", "IPv6")] // an IPv4 part must come last
    [InlineData("PROXY TCP6 ::ffff:256.2.3.4 ::1 1 2\r\n", "IPv6")]
    [InlineData("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", "IPv6")]
    [InlineData("PROXY TCP6 [::1] ::1 1 2\r\n", "IPv6")]
    [InlineData("PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n", "IPv6")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", "port")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n", "port")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 +80 2\r\n", "port")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", "port")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1 1000000\r\n", "port")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1 x\r\n", "port")]
    [InlineData("PROXY\r\n", "Not a PROXY protocol header")]
    [InlineData("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "Not a PROXY protocol header")]
    [InlineData("GET / HTTP/1.1\r\n", "Not a PROXY protocol header")]
    [InlineData("\x16\x03\x01\x02\x00", "Not a PROXY protocol header")] // a TLS ClientHello
    public Task Malformed_v1_lines_are_rejected(string line, string reason)
    {
        var error = Assert.Throws<ProxyProtocolException>(() => Parse(V1(line)));

        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task A_v1_line_without_CRLF_in_its_first_107_bytes_is_rejected_however_much_follows()
    {
        var longest = "PROXY UNKNOWN " + new string('f', ProxyHeaderParser.MaxV1Length - 16) + "\r\n";
        Assert.Equal(ProxyHeaderParser.MaxV1Length, longest.Length);
        Assert.Equal(ProxyHeaderParser.MaxV1Length, Parse(V1(longest)).Length);

        var tooLong = "PROXY UNKNOWN " + new string('f', ProxyHeaderParser.MaxV1Length - 15) + "\r\n";
        Assert.Throws<ProxyProtocolException>(() => Parse(V1(tooLong)));

        // Without a CRLF the parser asks for more until 107 bytes are in, then gives up.
        var noEnd = V1("PROXY UNKNOWN " + new string('f', 200));
        Assert.False(ProxyHeaderParser.TryParse(new ReadOnlySequence<byte>(noEnd, 0, ProxyHeaderParser.MaxV1Length - 1), MaxLength, out _));
        Assert.Throws<ProxyProtocolException>(() => ProxyHeaderParser.TryParse(new ReadOnlySequence<byte>(noEnd, 0, ProxyHeaderParser.MaxV1Length), MaxLength, out _));
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task A_peer_that_is_not_a_proxy_is_rejected_on_its_first_wrong_byte()
    {
        Assert.Throws<ProxyProtocolException>(() => ProxyHeaderParser.TryParse(new ReadOnlySequence<byte>("G"u8.ToArray()), MaxLength, out _));
        Assert.Throws<ProxyProtocolException>(() => ProxyHeaderParser.TryParse(new ReadOnlySequence<byte>("PROXX"u8.ToArray()), MaxLength, out _));
        Assert.Throws<ProxyProtocolException>(() => ProxyHeaderParser.TryParse(new ReadOnlySequence<byte>([0x0D, 0x0A, 0x0D, 0x0B]), MaxLength, out _));
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("192.0.2.10:40000", "198.51.100.1:11000")]
    [InlineData("[2001:db8::10]:40000", "[2001:db8::1]:11000")]
    public Task V2_PROXY_over_TCP_gives_the_source_and_destination(string source, string destination)
    {
        var bytes = V2Tcp(EndPoint(source), EndPoint(destination));

        var header = Parse([.. bytes, .. "payload"u8]);

        Assert.Equal(bytes.Length, header.Length);
        Assert.False(header.IsLocal);
        Assert.Equal(EndPoint(source), header.Source);
        Assert.Equal(EndPoint(destination), header.Destination);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task V2_LOCAL_keeps_the_real_endpoints_and_skips_whatever_its_length_covers()
    {
        // Receivers must honour the length even for LOCAL, and must not assume it is zero.
        var withAddresses = V2(Local, Tcp4, Addresses(EndPoint("192.0.2.1:1"), EndPoint("192.0.2.2:2")));
        var bare = V2(Local, Unspecified, []);

        var header = Parse([.. withAddresses, .. "next"u8]);
        Assert.True(header.IsLocal);
        Assert.Null(header.Source);
        Assert.Equal(withAddresses.Length, header.Length);
        Assert.Equal(ProxyHeaderV2.FixedLength, Parse(bare).Length);
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData(Unspecified, 0)]
    [InlineData(Unspecified, 12)] // UNSPEC with an address block: ignored
    [InlineData(0x10, 12)] // INET with an unspecified protocol
    [InlineData(0x01, 0)] // an unspecified family with STREAM
    [InlineData(Udp4, 12)] // datagram origins fall back to the real endpoints
    [InlineData(0x22, 36)]
    [InlineData(UnixStream, 216)] // so do Unix socket origins
    [InlineData(0x32, 216)]
    public Task V2_PROXY_families_the_server_does_not_map_keep_the_real_endpoints(byte familyProtocol, int addressLength)
    {
        var header = Parse(V2(Proxy, familyProtocol, new byte[addressLength]));

        Assert.False(header.IsLocal);
        Assert.Null(header.Source);
        Assert.Equal(ProxyHeaderV2.FixedLength + addressLength, header.Length);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task V2_TLVs_are_skipped_and_a_valid_CRC32C_is_accepted()
    {
        var source = EndPoint("203.0.113.7:5555");
        var bytes = WithCrc32C(V2Tcp(source, EndPoint("192.0.2.1:443"),
            Tlv(0x01, "h2"u8), Tlv(0x02, "example.com"u8), Tlv(0x04, []), Tlv(0x05, new byte[128]), Tlv(0xE0, new byte[1000])));

        var header = Parse(bytes);

        Assert.Equal(bytes.Length, header.Length);
        Assert.Equal(source, header.Source);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task Headers_captured_from_HAProxy_parse_and_its_CRC32C_checks_out()
    {
        // HAProxy 2.6 with "send-proxy-v2 proxy-v2-options crc32c check": a health check, and a client at
        // 127.0.0.2:40001 relayed to a server behind the frontend 127.0.0.1:18110, followed by the client's "x<EOF>".
        var check = Convert.FromHexString("0d0a0d0a000d0a515549540a20000007030004a9b87e8f");
        var relayed = Convert.FromHexString("0d0a0d0a000d0a515549540a211100137f0000027f0000019c4146be030004bbc009ae783c454f463e");

        var local = Parse(check);
        var proxied = Parse(relayed);

        Assert.True(local.IsLocal);
        Assert.Equal(check.Length, local.Length);
        Assert.Equal(EndPoint("127.0.0.2:40001"), proxied.Source);
        Assert.Equal(EndPoint("127.0.0.1:18110"), proxied.Destination);
        Assert.Equal("x<EOF>", Encoding.ASCII.GetString(relayed.AsSpan(proxied.Length)));

        // The same header with its client address altered no longer matches HAProxy's checksum.
        var spoofed = Patch(relayed, 19, 0x03);
        Assert.Contains("CRC32C", Assert.Throws<ProxyProtocolException>(() => Parse(spoofed)).Message, StringComparison.Ordinal);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task CRC32C_is_the_Castagnoli_checksum()
    {
        // RFC 3720 B.4 / the usual check value of CRC-32C.
        Assert.Equal(0xE3069283u, ~ProxyHeaderV2.Crc32C(uint.MaxValue, "123456789"u8));
        return Task.CompletedTask;
    }

    public static TheoryData<string, byte[]> MalformedV2 => new()
    {
        { "version", Patch(ValidV2(), 12, 0x11) }, // version 1 in binary form
        { "version", Patch(ValidV2(), 12, 0x31) },
        { "version", Patch(ValidV2(), 12, 0x01) },
        { "command", Patch(ValidV2(), 12, 0x22) },
        { "command", Patch(ValidV2(), 12, 0x2F) },
        { "family", Patch(ValidV2(), 13, 0x41) },
        { "family", Patch(ValidV2(), 13, 0xF1) },
        { "family", Patch(ValidV2(), 13, 0x13) }, // protocol 3
        { "family", Patch(ValidV2(), 13, 0x1F) },
        { "family", Patch(V2(Local, 0x11, []), 13, 0x51) }, // checked for LOCAL too
        { "shorter than the 12", V2(Proxy, Tcp4, new byte[11]) },
        { "shorter than the 36", V2(Proxy, Tcp6, new byte[35]) },
        { "shorter than the 216", V2(Proxy, UnixStream, new byte[215]) },
        { "ends inside a TLV", V2(Proxy, Tcp4, new byte[14]) },
        { "ends inside a TLV", V2(Proxy, Tcp4, new byte[13]) },
        { "runs past", V2(Proxy, Tcp4, [.. new byte[12], 0x01, 0x00, 0x05, 0x61]) },
        { "runs past", V2(Proxy, Tcp4, [.. new byte[12], .. Tlv(0x02, "ok"u8), 0x04, 0xFF, 0xFF]) },
        { "CRC32C checksum does not match", Patch(WithCrc32C(ValidV2()), 20, 0x99) },
        { "CRC32C checksum does not match", Patch(WithCrc32C(ValidV2()), ValidV2().Length + 3, 0x00) },
        { "exactly 4 bytes", V2(Proxy, Tcp4, [.. new byte[12], .. Tlv(0x03, new byte[3])]) },
    };

    [Theory(Timeout = Timeouts.Fast)]
    [MemberData(nameof(MalformedV2))]
    public Task Malformed_v2_headers_are_rejected(string reason, byte[] bytes)
    {
        var error = Assert.Throws<ProxyProtocolException>(() => Parse(bytes));

        Assert.Contains(reason, error.Message, StringComparison.OrdinalIgnoreCase);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task Every_byte_of_the_v2_signature_is_checked()
    {
        var valid = ValidV2();
        for (var i = 0; i < ProxyHeaderV2.Signature.Length; i++)
        {
            var bytes = Patch(valid, i, (byte)(valid[i] ^ 0x40));
            Assert.Throws<ProxyProtocolException>(() => Parse(bytes));
        }

        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task A_v2_header_longer_than_the_limit_is_rejected_before_it_arrives()
    {
        var fixedPart = V2(Proxy, Tcp4, new byte[5000]).AsSpan(0, ProxyHeaderV2.FixedLength).ToArray();

        var error = Assert.Throws<ProxyProtocolException>(() => ProxyHeaderParser.TryParse(new ReadOnlySequence<byte>(fixedPart), 4096, out _));

        Assert.Contains("larger than the 4096 bytes allowed", error.Message, StringComparison.Ordinal);
        return Task.CompletedTask;
    }

    public static TheoryData<string, byte[]> ValidHeaders => new()
    {
        { "v1 TCP4", V1("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n") },
        { "v1 TCP6", V1("PROXY TCP6 2001:db8::1 2001:db8::2 1234 80\r\n") },
        { "v1 UNKNOWN", V1("PROXY UNKNOWN\r\n") },
        { "v2 TCP4", ValidV2() },
        { "v2 TCP6 with TLVs and CRC32C", WithCrc32C(V2Tcp(EndPoint("[2001:db8::1]:1"), EndPoint("[2001:db8::2]:2"), Tlv(0x01, "h2"u8))) },
        { "v2 LOCAL", V2(Local, Unspecified, []) },
    };

    [Theory(Timeout = Timeouts.Fast)]
    [MemberData(nameof(ValidHeaders))]
    public Task A_header_split_anywhere_needs_more_bytes_until_it_is_whole(string name, byte[] bytes)
    {
        _ = name;
        for (var length = 0; length < bytes.Length; length++)
        {
            Assert.False(ProxyHeaderParser.TryParse(new ReadOnlySequence<byte>(bytes, 0, length), MaxLength, out _));
        }

        // The same bytes, one segment per byte, as a pipe could deliver them.
        Assert.True(ProxyHeaderParser.TryParse(Split(bytes, [.. Enumerable.Range(1, bytes.Length - 1)]), MaxLength, out var header));
        Assert.Equal(bytes.Length, header.Length);
        return Task.CompletedTask;
    }

    internal static byte[] ValidV2() => V2Tcp(EndPoint("192.0.2.10:40000"), EndPoint("198.51.100.1:11000"));

    private static ProxyHeader Parse(byte[] bytes)
    {
        Assert.True(ProxyHeaderParser.TryParse(new ReadOnlySequence<byte>(bytes), MaxLength, out var header), Encoding.ASCII.GetString(bytes));
        return header;
    }

    private static byte[] Patch(byte[] bytes, int index, byte value)
    {
        var copy = bytes.ToArray();
        copy[index] = value;
        return copy;
    }
}
