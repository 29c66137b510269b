using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using Sockeye.Messaging;

namespace Sockeye.Benchmarks;

/// <summary>
/// What the one-writer gate on every handler output (issue 18) costs a handler that never pushes: the same replies
/// written to a pipe's writer bare (the baseline) and behind the gate, the way the portable transport, TLS and in-memory
/// connections give it to handlers. Each operation writes <see cref="Replies"/> small replies, flushing after each, as a
/// ping-pong handler does, and lets the pipe's reader take them.
/// </summary>
[MemoryDiagnoser]
public class OutputGateBenchmarks
{
    private const int Replies = 100;
    private static readonly byte[] s_reply = new byte[32];

    private Pipe _pipe = null!;
    private PipeWriter _bare = null!;
    private PipeWriter _guarded = null!;

    [GlobalSetup]
    public void Setup()
    {
        _pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        _bare = _pipe.Writer;
        _guarded = new GuardedPipeWriter(_pipe.Writer);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Replies)]
    public Task Bare() => WriteAsync(_bare);

    [Benchmark(OperationsPerInvoke = Replies)]
    public Task Guarded() => WriteAsync(_guarded);

    private async Task WriteAsync(PipeWriter writer)
    {
        for (var i = 0; i < Replies; i++)
        {
            var span = writer.GetSpan(s_reply.Length);
            s_reply.CopyTo(span);
            writer.Advance(s_reply.Length);
            await writer.FlushAsync();
        }

        // Consume what was written, so the pipe's memory is reused and nothing accumulates across operations.
        var reader = _pipe.Reader;
        reader.TryRead(out var result);
        reader.AdvanceTo(result.Buffer.End);
    }
}
