using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Numerics;

namespace Sockeye.Protocols;

/// <summary>The binary (version 2) PROXY protocol header, spec section 2.2.</summary>
internal static class ProxyHeaderV2
{
    /// <summary>The signature, version and command, family and protocol, and the 16-bit length of what follows.</summary>
    public const int FixedLength = 16;

    /// <summary>The largest header the format can express.</summary>
    public const int MaxLength = FixedLength + ushort.MaxValue;

    private const int Version = 2;
    private const int CommandLocal = 0;
    private const int CommandProxy = 1;
    private const int FamilyUnspecified = 0;
    private const int FamilyInet = 1;
    private const int FamilyInet6 = 2;
    private const int FamilyUnix = 3;
    private const int ProtocolUnspecified = 0;
    private const int ProtocolStream = 1;
    private const int ProtocolDatagram = 2;
    private const int TlvHeaderLength = 3;
    private const byte TlvCrc32C = 0x03;

    public static ReadOnlySpan<byte> Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    /// <inheritdoc cref="ProxyHeaderParser.TryParse"/>
    public static bool TryParse(in ReadOnlySequence<byte> buffer, int maxLength, out ProxyHeader header)
    {
        header = default;
        var available = (int)Math.Min(buffer.Length, FixedLength);
        Span<byte> fixedPart = stackalloc byte[FixedLength];
        buffer.Slice(0, available).CopyTo(fixedPart);

        // Check each byte as soon as it arrives: a peer that is not a proxy is dropped without waiting for more.
        var signatureLength = Math.Min(available, Signature.Length);
        if (!fixedPart[..signatureLength].SequenceEqual(Signature[..signatureLength]))
        {
            throw new ProxyProtocolException("Not a PROXY protocol header.");
        }

        if (available > Signature.Length)
        {
            var version = fixedPart[12] >> 4;
            var command = fixedPart[12] & 0xF;
            if (version != Version)
            {
                throw new ProxyProtocolException($"Unsupported PROXY protocol version {version}.");
            }

            if (command is not (CommandLocal or CommandProxy))
            {
                throw new ProxyProtocolException($"Unknown PROXY protocol command {command}.");
            }
        }

        if (available > Signature.Length + 1 && (fixedPart[13] >> 4 > FamilyUnix || (fixedPart[13] & 0xF) > ProtocolDatagram))
        {
            throw new ProxyProtocolException($"Unknown PROXY protocol address family and protocol 0x{fixedPart[13]:x2}.");
        }

        if (available < FixedLength)
        {
            return false;
        }

        var length = FixedLength + BinaryPrimitives.ReadUInt16BigEndian(fixedPart[14..]);
        if (length > maxLength)
        {
            throw new ProxyProtocolException($"A PROXY protocol header of {length} bytes is larger than the {maxLength} bytes allowed.");
        }

        // The spec forbids acting on a partial header, or parsing an address before the whole block is in.
        if (buffer.Length < length)
        {
            return false;
        }

        header = (fixedPart[12] & 0xF) == CommandLocal
            ? ProxyHeader.KeepRealEndPoints(length, isLocal: true)
            : ParseProxyCommand(buffer.Slice(0, length), family: fixedPart[13] >> 4, protocol: fixedPart[13] & 0xF);
        return true;
    }

    private static ProxyHeader ParseProxyCommand(in ReadOnlySequence<byte> header, int family, int protocol)
    {
        var length = (int)header.Length;

        // UNSPEC: the proxy could not describe the connection; use the real endpoints and ignore the rest (spec 2.2).
        if (family == FamilyUnspecified || protocol == ProtocolUnspecified)
        {
            return ProxyHeader.KeepRealEndPoints(length);
        }

        var addressLength = family switch
        {
            FamilyInet => 12,
            FamilyInet6 => 36,
            _ => 216,
        };
        if (length - FixedLength < addressLength)
        {
            throw new ProxyProtocolException(
                $"A PROXY protocol header's address block of {length - FixedLength} bytes is shorter than the {addressLength} its family needs.");
        }

        byte[]? rented = null;
        try
        {
            ReadOnlySpan<byte> bytes;
            if (header.IsSingleSegment)
            {
                bytes = header.FirstSpan;
            }
            else
            {
                rented = ArrayPool<byte>.Shared.Rent(length);
                header.CopyTo(rented);
                bytes = rented.AsSpan(0, length);
            }

            CheckTlvs(bytes, FixedLength + addressLength);

            // A stream server maps TCP over IPv4 and IPv6. Datagram and Unix socket origins fall back to the real
            // endpoints, as the spec lets a receiver do for the combinations it does not support.
            return protocol == ProtocolStream && family is FamilyInet or FamilyInet6
                ? ReadEndPoints(bytes.Slice(FixedLength, addressLength), length)
                : ProxyHeader.KeepRealEndPoints(length);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private static ProxyHeader ReadEndPoints(ReadOnlySpan<byte> addresses, int length)
    {
        var size = (addresses.Length - 4) / 2;
        var source = new IPAddress(addresses[..size]);
        var destination = new IPAddress(addresses.Slice(size, size));
        var sourcePort = BinaryPrimitives.ReadUInt16BigEndian(addresses[(2 * size)..]);
        var destinationPort = BinaryPrimitives.ReadUInt16BigEndian(addresses[((2 * size) + 2)..]);
        return new ProxyHeader(length, IsLocal: false, new IPEndPoint(source, sourcePort), new IPEndPoint(destination, destinationPort));
    }

    /// <summary>
    /// The TLVs after the addresses must tile the rest of the header exactly. Their values are skipped, except a
    /// CRC32C checksum, which a receiver that supports it must verify (spec 2.2.3).
    /// </summary>
    private static void CheckTlvs(ReadOnlySpan<byte> header, int offset)
    {
        while (offset < header.Length)
        {
            if (header.Length - offset < TlvHeaderLength)
            {
                throw new ProxyProtocolException("A PROXY protocol header ends inside a TLV.");
            }

            var type = header[offset];
            var valueLength = BinaryPrimitives.ReadUInt16BigEndian(header[(offset + 1)..]);
            var valueOffset = offset + TlvHeaderLength;
            if (valueLength > header.Length - valueOffset)
            {
                throw new ProxyProtocolException("A PROXY protocol TLV runs past the end of its header.");
            }

            if (type == TlvCrc32C)
            {
                CheckCrc32C(header, valueOffset, valueLength);
            }

            offset = valueOffset + valueLength;
        }
    }

    private static void CheckCrc32C(ReadOnlySpan<byte> header, int valueOffset, int valueLength)
    {
        if (valueLength != sizeof(uint))
        {
            throw new ProxyProtocolException("A PROXY protocol CRC32C TLV must hold exactly 4 bytes.");
        }

        // The checksum covers the whole header with its own value taken as zeros.
        var crc = Crc32C(uint.MaxValue, header[..valueOffset]);
        crc = Crc32C(crc, [0, 0, 0, 0]);
        crc = ~Crc32C(crc, header[(valueOffset + sizeof(uint))..]);
        if (crc != BinaryPrimitives.ReadUInt32BigEndian(header[valueOffset..]))
        {
            throw new ProxyProtocolException("A PROXY protocol header's CRC32C checksum does not match.");
        }
    }

    /// <summary>Continues a CRC32C (Castagnoli, RFC 4960 appendix B) over <paramref name="data"/>; the caller inverts at both ends.</summary>
    internal static uint Crc32C(uint crc, ReadOnlySpan<byte> data)
    {
        foreach (var value in data)
        {
            crc = BitOperations.Crc32C(crc, value);
        }

        return crc;
    }
}
