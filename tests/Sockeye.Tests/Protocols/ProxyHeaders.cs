using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Text;
using Sockeye.Protocols;

namespace Sockeye.Tests.Protocols;

/// <summary>Builds PROXY protocol headers byte by byte, as a proxy would send them.</summary>
internal static class ProxyHeaders
{
    public const byte Local = 0x20;
    public const byte Proxy = 0x21;
    public const byte Unspecified = 0x00;
    public const byte Tcp4 = 0x11;
    public const byte Udp4 = 0x12;
    public const byte Tcp6 = 0x21;
    public const byte UnixStream = 0x31;

    public static byte[] V1(string line) => Encoding.ASCII.GetBytes(line);

    /// <summary>A version 2 header: signature, version and command, family and protocol, length, then <paramref name="body"/>.</summary>
    public static byte[] V2(byte versionCommand, byte familyProtocol, ReadOnlySpan<byte> body)
    {
        var header = new byte[ProxyHeaderV2.FixedLength + body.Length];
        ProxyHeaderV2.Signature.CopyTo(header);
        header[12] = versionCommand;
        header[13] = familyProtocol;
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(14), checked((ushort)body.Length));
        body.CopyTo(header.AsSpan(ProxyHeaderV2.FixedLength));
        return header;
    }

    /// <summary>A PROXY command for TCP over IPv4 or IPv6 (by the source's family), followed by <paramref name="tlvs"/>.</summary>
    public static byte[] V2Tcp(IPEndPoint source, IPEndPoint destination, params byte[][] tlvs)
    {
        var addresses = Addresses(source, destination);
        var family = source.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? Tcp4 : Tcp6;
        return V2(Proxy, family, [.. addresses, .. tlvs.SelectMany(tlv => tlv)]);
    }

    public static byte[] Addresses(IPEndPoint source, IPEndPoint destination)
    {
        var ports = new byte[4];
        BinaryPrimitives.WriteUInt16BigEndian(ports, (ushort)source.Port);
        BinaryPrimitives.WriteUInt16BigEndian(ports.AsSpan(2), (ushort)destination.Port);
        return [.. source.Address.GetAddressBytes(), .. destination.Address.GetAddressBytes(), .. ports];
    }

    public static byte[] Tlv(byte type, ReadOnlySpan<byte> value)
    {
        var tlv = new byte[3 + value.Length];
        tlv[0] = type;
        BinaryPrimitives.WriteUInt16BigEndian(tlv.AsSpan(1), (ushort)value.Length);
        value.CopyTo(tlv.AsSpan(3));
        return tlv;
    }

    /// <summary>Appends a CRC32C TLV to a version 2 header and fills in its checksum, as HAProxy's <c>proxy-v2-options crc32c</c> does.</summary>
    public static byte[] WithCrc32C(byte[] header)
    {
        var body = header.AsSpan(ProxyHeaderV2.FixedLength);
        var result = V2(header[12], header[13], [.. body, .. Tlv(0x03, new byte[4])]);
        var crc = ~ProxyHeaderV2.Crc32C(uint.MaxValue, result);
        BinaryPrimitives.WriteUInt32BigEndian(result.AsSpan(result.Length - 4), crc);
        return result;
    }

    public static IPEndPoint EndPoint(string text) => IPEndPoint.Parse(text);

    /// <summary>The bytes as a sequence with a segment boundary at each of <paramref name="cuts"/> (increasing).</summary>
    public static ReadOnlySequence<byte> Split(byte[] bytes, params int[] cuts)
    {
        var start = 0;
        Segment? first = null;
        Segment? last = null;
        foreach (var end in cuts.Append(bytes.Length))
        {
            var memory = bytes.AsMemory(start, end - start);
            last = last is null ? first = new Segment(memory, 0) : last.Append(memory);
            start = end;
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
