using System.Buffers;
using BenchmarkDotNet.Attributes;
using Sockeye.Framing;

namespace Sockeye.Benchmarks;

/// <summary>
/// The message API in steady state, without a network: one <c>ReadMessagesAsync</c> enumeration, as a handler holds
/// for its connection's life, pulling buffered frames through the reader a connection uses (maximum size, resumable
/// search, async enumeration).
/// </summary>
[MemoryDiagnoser]
public class MessageReaderBenchmarks
{
    private IAsyncEnumerator<ReadOnlySequence<byte>> _messages = null!;

    [Params("line", "delimiter", "length-prefix")]
    public string Framer { get; set; } = "line";

    [Params(32, 4096)]
    public int MessageSize { get; set; }

    [Params(false, true)]
    public bool Split { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var framer = FrameData.Framer(Framer);
        _messages = new ReplayPipeReader(FrameData.Create(framer, MessageSize, Split)).ReadMessagesAsync(framer).GetAsyncEnumerator();
    }

    [GlobalCleanup]
    public ValueTask Cleanup() => _messages.DisposeAsync();

    [Benchmark(OperationsPerInvoke = FrameData.Messages)]
    public async ValueTask<long> ReadMessages()
    {
        long total = 0;
        for (var i = 0; i < FrameData.Messages; i++)
        {
            await _messages.MoveNextAsync();
            total += _messages.Current.Length;
        }

        return total;
    }
}
