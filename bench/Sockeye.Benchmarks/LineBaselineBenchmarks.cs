using System.Buffers;
using BenchmarkDotNet.Attributes;
using Sockeye.Framing;

namespace Sockeye.Benchmarks;

/// <summary>
/// The line framer against the loop a handler would write by hand (<see cref="SequenceReader{T}.TryReadTo(out ReadOnlySequence{T}, T, bool)"/>),
/// the baseline: what the framer's maximum size, carriage-return handling and resumable search cost.
/// </summary>
[MemoryDiagnoser]
public class LineBaselineBenchmarks
{
    private readonly LineFramer _framer = new();
    private ReadOnlySequence<byte> _input;

    [Params(32, 4096)]
    public int MessageSize { get; set; }

    [Params(false, true)]
    public bool Split { get; set; }

    [GlobalSetup]
    public void Setup() => _input = FrameData.Create(_framer, MessageSize, Split);

    [Benchmark(Baseline = true, OperationsPerInvoke = FrameData.Messages)]
    public long HandWritten()
    {
        var reader = new SequenceReader<byte>(_input);
        long total = 0;
        while (reader.TryReadTo(out ReadOnlySequence<byte> line, (byte)'\n'))
        {
            total += line.Length;
        }

        return total;
    }

    [Benchmark(OperationsPerInvoke = FrameData.Messages)]
    public long LineFramer()
    {
        var input = _input;
        long total = 0;
        while (true)
        {
            var consumed = input.Start;
            var examined = input.Start;
            if (!_framer.TryParseMessage(input, 1024 * 1024, ref consumed, ref examined, out var message))
            {
                return total;
            }

            total += message.Length;
            input = input.Slice(consumed);
        }
    }
}
