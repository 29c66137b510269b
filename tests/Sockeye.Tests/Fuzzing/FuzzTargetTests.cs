using System.Reflection;
using Sockeye.Fuzz;

namespace Sockeye.Tests.Fuzzing;

/// <summary>
/// The AFL++ targets (fuzz/Sockeye.Fuzz) in every test run: each keeps its promises on every input of its corpus,
/// which holds the inputs of every crash found and fixed, and on seeded mutations of them. The coverage-guided runs
/// are <c>fuzz/run</c>'s (docs/fuzzing.md).
/// </summary>
public class FuzzTargetTests
{
    private const int MutationsPerTarget = 1_500;

    private static readonly string s_corpus = Path.Combine(
        typeof(FuzzTargetTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "RepositoryRoot").Value!,
        "fuzz", "corpus");

    public static TheoryData<string> Targets() => [.. FuzzTargets.All.Select(target => target.Name)];

    [Fact(Timeout = Timeouts.Fast)]
    public Task Every_target_has_a_seed_corpus_and_every_corpus_a_target()
    {
        var folders = Directory.GetDirectories(s_corpus).Select(Path.GetFileName).Order(StringComparer.Ordinal);
        Assert.Equal(FuzzTargets.All.Select(target => target.Name).Order(StringComparer.Ordinal), folders);
        Assert.All(Directory.GetDirectories(s_corpus), folder => Assert.NotEmpty(Directory.GetFiles(folder)));
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [MemberData(nameof(Targets))]
    public Task Every_input_in_the_corpus_keeps_the_targets_promises(string name)
    {
        var target = FuzzTargets.Find(name)!;
        foreach (var file in Directory.GetFiles(Path.Combine(s_corpus, name)))
        {
            Run(target, File.ReadAllBytes(file), Path.GetFileName(file));
        }

        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Network)]
    [MemberData(nameof(Targets))]
    public Task Seeded_mutations_of_the_corpus_keep_the_targets_promises(string name)
    {
        var target = FuzzTargets.Find(name)!;
        var seeds = Directory.GetFiles(Path.Combine(s_corpus, name)).Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToArray();
        var random = new Random(name.Length * 7919);
        for (var i = 0; i < MutationsPerTarget; i++)
        {
            var input = Mutate(random, seeds[random.Next(seeds.Length)], seeds[random.Next(seeds.Length)]);
            Run(target, input, $"mutation {i}");
        }

        return Task.CompletedTask;
    }

    private static void Run(FuzzTargets.Target target, byte[] input, string what)
    {
        try
        {
            target(input);
        }
        catch (Exception error)
        {
            Assert.Fail($"{what}, input {Convert.ToHexString(input)}: {error}");
        }
    }

    /// <summary>AFL's havoc, in small: a few flips, overwrites, inserts, deletions and splices.</summary>
    private static byte[] Mutate(Random random, byte[] seed, byte[] other)
    {
        var bytes = seed.ToList();
        for (var m = random.Next(1, 5); m > 0; m--)
        {
            var index = bytes.Count == 0 ? 0 : random.Next(bytes.Count);
            switch (random.Next(6))
            {
                case 0 when bytes.Count > 0:
                    bytes[index] ^= (byte)(1 << random.Next(8));
                    break;
                case 1 when bytes.Count > 0:
                    bytes[index] = (byte)random.Next(256);
                    break;
                case 2:
                    bytes.Insert(index, (byte)random.Next(256));
                    break;
                case 3 when bytes.Count > 0:
                    bytes.RemoveRange(index, random.Next(1, bytes.Count - index + 1));
                    break;
                case 4:
                    bytes.InsertRange(index, other.Skip(random.Next(other.Length + 1)).Take(random.Next(1, 32)));
                    break;
                default:
                    bytes.AddRange(Enumerable.Range(0, random.Next(1, 16)).Select(_ => (byte)random.Next(256)));
                    break;
            }
        }

        return [.. bytes];
    }
}
