using System.Buffers;
using BenchmarkDotNet.Attributes;
using Sockeye.Framing;

namespace Sockeye.Benchmarks;

/// <summary>
/// Each framer finding messages in buffered bytes, and writing them: per message, from one segment and from frames
/// split across two. Every benchmark handles <see cref="FrameData.Messages"/> messages per invocation.
/// </summary>
[MemoryDiagnoser]
public class FramerBenchmarks
{
    private const long MaxMessageSize = 1024 * 1024;

    private readonly ArrayBufferWriter<byte> _output = new(1024 * 1024);
    private MessageFramer _framer = null!;
    private ReadOnlySequence<byte> _input;
    private byte[] _message = null!;

    [Params("line", "delimiter", "length-prefix", "whole-stream")]
    public string Framer { get; set; } = "line";

    [Params(32, 4096)]
    public int MessageSize { get; set; }

    [Params(false, true)]
    public bool Split { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _framer = FrameData.Framer(Framer);
        _input = FrameData.Create(_framer, MessageSize, Split);
        _message = new byte[MessageSize];
    }

    [Benchmark(OperationsPerInvoke = FrameData.Messages)]
    public long Parse()
    {
        if (_framer is WholeStreamFramer)
        {
            return ParseStreams();
        }

        var input = _input;
        long total = 0;
        while (true)
        {
            var consumed = input.Start;
            var examined = input.Start;
            if (!_framer.TryParseMessage(input, MaxMessageSize, ref consumed, ref examined, out var message))
            {
                return total;
            }

            total += message.Length;
            input = input.Slice(consumed);
        }
    }

    /// <summary>A whole-stream message is a stream: each message is taken as one stream that has ended.</summary>
    private long ParseStreams()
    {
        var input = _input;
        long total = 0;
        for (var i = 0; i < FrameData.Messages; i++)
        {
            var stream = input.Slice(0, MessageSize);
            var consumed = stream.Start;
            var examined = stream.Start;
            if (!_framer.TryParseMessage(stream, MaxMessageSize, ref consumed, ref examined, out var message)
                && _framer.TryParseFinalMessage(stream, MaxMessageSize, out message))
            {
                total += message.Length;
            }

            input = input.Slice(stream.End);
        }

        return total;
    }

    [Benchmark(OperationsPerInvoke = FrameData.Messages)]
    public int Write()
    {
        _output.ResetWrittenCount();
        for (var i = 0; i < FrameData.Messages; i++)
        {
            _framer.WriteMessage(_message, _output);
        }

        return _output.WrittenCount;
    }
}
