using BenchmarkDotNet.Attributes;
using Sockeye.Framing;

namespace Sockeye.Benchmarks;

/// <summary>What reading messages costs once per connection: starting an enumeration and reading its first message.</summary>
[MemoryDiagnoser]
public class ConnectionStartBenchmarks
{
    private readonly LineFramer _framer = new();
    private ReplayPipeReader _input = null!;

    [GlobalSetup]
    public void Setup() => _input = new ReplayPipeReader(FrameData.Create(_framer, 32, split: false));

    [Benchmark]
    public async ValueTask<long> StartReading()
    {
        await using var messages = _input.ReadMessagesAsync(_framer).GetAsyncEnumerator();
        await messages.MoveNextAsync();
        return messages.Current.Length;
    }
}
