using Sockeye.Fuzz;

namespace Sockeye.Tests.Framing;

/// <summary>
/// The SharpFuzz target (fuzz/Sockeye.Fuzz), run on a fixed seed for a bounded number of cases: random bytes into
/// every framer, split into reads of random sizes. Only the framers' own ProtocolException may escape.
/// </summary>
public class FramingFuzzTests
{
    private const int Seed = 611;
    private const int Cases = 20_000;

    // Bytes the framers treat specially, so that half the cases are dense with near misses rather than noise.
    private static readonly byte[] s_alphabet = [(byte)'a', (byte)'b', (byte)'\r', (byte)'\n', (byte)'<', (byte)'E', (byte)'O', (byte)'F', (byte)'>', 0, 1, 255];

    [Fact(Timeout = Timeouts.Network)]
    public Task Random_bytes_into_every_framer_raise_nothing_but_protocol_errors()
    {
        var random = new Random(Seed);
        for (var i = 0; i < Cases; i++)
        {
            var data = new byte[random.Next(2, 300)];
            random.NextBytes(data);
            if (random.Next(2) == 0)
            {
                for (var j = 2; j < data.Length; j++)
                {
                    data[j] = s_alphabet[data[j] % s_alphabet.Length];
                }
            }

            try
            {
                FramingTarget.Run(data);
            }
            catch (Exception error)
            {
                Assert.Fail($"Case {i} (seed {Seed}), input {Convert.ToHexString(data)}: {error}");
            }
        }

        return Task.CompletedTask;
    }
}
