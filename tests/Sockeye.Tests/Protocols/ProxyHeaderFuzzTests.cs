using System.Buffers;
using System.Net;
using Sockeye.Protocols;
using static Sockeye.Tests.Protocols.ProxyHeaders;

namespace Sockeye.Tests.Protocols;

/// <summary>
/// Seeded mutations of valid headers: whatever the bytes, the parser answers "whole", "need more" or throws
/// <see cref="ProxyProtocolException"/>, never anything else, and the answer does not depend on how the bytes are split.
/// </summary>
public class ProxyHeaderFuzzTests
{
    private const int Iterations = 30_000;

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData(1)]
    [InlineData(20260)]
    [InlineData(777)]
    public Task Mutated_headers_only_ever_fail_with_a_protocol_exception(int seed)
    {
        var random = new Random(seed);
        var outcomes = new int[3];
        for (var i = 0; i < Iterations; i++)
        {
            var bytes = Mutate(random, Valid(random));
            var maxLength = random.Next(2) == 0 ? ProxyHeaderV2.MaxLength : random.Next(16, 600);
            var whole = Outcome(new ReadOnlySequence<byte>(bytes), maxLength, bytes.Length);
            var split = Outcome(SplitRandomly(random, bytes), maxLength, bytes.Length);

            Assert.Equal(whole, split);
            outcomes[whole.Kind]++;
        }

        // The mutations reach every outcome, so the run exercised more than the first byte check.
        Assert.All(outcomes, count => Assert.True(count > Iterations / 50, string.Join(", ", outcomes)));
        return Task.CompletedTask;
    }

    private static (int Kind, ProxyHeader Header) Outcome(ReadOnlySequence<byte> buffer, int maxLength, int available)
    {
        try
        {
            if (!ProxyHeaderParser.TryParse(buffer, maxLength, out var header))
            {
                return (0, default);
            }

            Assert.InRange(header.Length, 1, available);
            return (1, header);
        }
        catch (ProxyProtocolException)
        {
            return (2, default);
        }
    }

    private static byte[] Valid(Random random)
    {
        var source = new IPEndPoint(RandomAddress(random, random.Next(2) == 0), random.Next(65536));
        var destination = new IPEndPoint(RandomAddress(random, source.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork), random.Next(65536));
        var family = source.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? "TCP4" : "TCP6";
        return random.Next(6) switch
        {
            0 => V1($"PROXY {family} {source.Address} {destination.Address} {source.Port} {destination.Port}\r\n"),
            1 => V1("PROXY UNKNOWN\r\n"),
            2 => V2(Local, Unspecified, RandomBytes(random, random.Next(4))),
            3 => WithCrc32C(V2Tcp(source, destination, Tlv(0x02, RandomBytes(random, random.Next(20))))),
            _ => V2Tcp(source, destination, [.. Enumerable.Range(0, random.Next(3)).Select(_ => Tlv((byte)random.Next(256), RandomBytes(random, random.Next(10))))]),
        };
    }

    private static byte[] Mutate(Random random, byte[] bytes)
    {
        var list = bytes.ToList();
        var mutations = random.Next(0, 4);
        for (var m = 0; m < mutations && list.Count > 0; m++)
        {
            var index = random.Next(list.Count);
            switch (random.Next(6))
            {
                case 0:
                    list[index] ^= (byte)(1 << random.Next(8));
                    break;
                case 1:
                    list[index] = (byte)random.Next(256);
                    break;
                case 2:
                    list.RemoveRange(index, list.Count - index);
                    break;
                case 3:
                    list.Insert(index, (byte)random.Next(256));
                    break;
                case 4:
                    list.RemoveAt(index);
                    break;
                default:
                    list.AddRange(RandomBytes(random, random.Next(1, 40)));
                    break;
            }
        }

        return [.. list];
    }

    private static ReadOnlySequence<byte> SplitRandomly(Random random, byte[] bytes) =>
        bytes.Length < 2 ? new ReadOnlySequence<byte>(bytes) : Split(bytes, random.Next(1, bytes.Length));

    private static IPAddress RandomAddress(Random random, bool ipv4) => new(RandomBytes(random, ipv4 ? 4 : 16));

    private static byte[] RandomBytes(Random random, int count)
    {
        var bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }
}
