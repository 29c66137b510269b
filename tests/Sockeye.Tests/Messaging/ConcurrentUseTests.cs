using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using Sockeye.Messaging;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Messaging;

/// <summary>
/// Issue 18: two writers (or readers) on one connection's pipes at once fail at once with a clear error that points to
/// the thread-safe send, and the pipe stays whole for the one that was there first; on every output a handler can see.
/// </summary>
public class ConcurrentUseTests
{
    private const int Chunk = 16 * 1024;

    public static TheoryData<OutputKind> AllOutputs => [OutputKind.Socket, OutputKind.Tls, OutputKind.InMemory, OutputKind.Pipe];

    public static TheoryData<OutputKind> ConnectionOutputs => [OutputKind.Socket, OutputKind.Tls, OutputKind.InMemory];

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Theory(Timeout = Timeouts.Network)]
    [MemberData(nameof(AllOutputs))]
    public async Task A_second_writer_while_a_flush_waits_fails_at_once_and_the_first_writer_goes_on(OutputKind kind)
    {
        await using var harness = await OutputHarness.StartAsync(kind);
        var output = harness.Output;

        // The client reads nothing, so the output fills and a flush has to wait.
        var (flush, written) = await WriteUntilPushedBackAsync(output);

        var write = await OnAnotherThread(() => output.GetMemory());
        var secondFlush = await OnAnotherThread(() => output.FlushAsync(Token));
        AssertConcurrentWrite(write);
        AssertConcurrentWrite(secondFlush);

        // The first writer's flush completes once the client reads, and it goes on writing.
        var reading = harness.ReadToEndAsync();
        Assert.False((await flush.AsTask().WithTestTimeout()).IsCanceled);
        WritePattern(output, written, 1000);
        await output.FlushAsync(Token);
        harness.Finish();

        AssertPattern(await reading.WithTestTimeout(), written + 1000);
    }

    [Theory(Timeout = Timeouts.Network)]
    [MemberData(nameof(AllOutputs))]
    public async Task A_second_writer_while_the_first_holds_memory_fails_at_once(OutputKind kind)
    {
        await using var harness = await OutputHarness.StartAsync(kind);
        var output = harness.Output;

        var memory = output.GetMemory(100);
        var second = await OnAnotherThread(() => output.GetMemory(100));
        AssertConcurrentWrite(second);

        "first"u8.CopyTo(memory.Span);
        output.Advance(5);
        await output.FlushAsync(Token);

        Assert.Equal("first", Encoding.ASCII.GetString(await harness.FinishAndReadToEndAsync()));
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Twenty_writers_at_once_are_refused_clearly_and_every_line_arrives_whole_and_in_its_writers_order()
    {
        // The issue's report: twenty handlers writing lines to one connection's output at once killed nineteen of them
        // with NullReferenceException and ArgumentOutOfRangeException, and the receiver got a seventh of the lines.
        const int Writers = 20;
        const int MinLines = 200;
        // A bound, not a goal: writers stop as soon as they have met. On 2 idle cores twenty short loops can each finish
        // before the next starts, so all of them start at once (the gate) and go on until one write is refused.
        const int MaxLines = 100_000;
        await using var harness = await OutputHarness.StartAsync(OutputKind.Socket);
        var output = harness.Output;
        var refused = 0;
        var others = new List<Exception>();
        var reading = harness.ReadToEndAsync();
        using var gate = new Barrier(Writers);

        await Task.WhenAll(Enumerable.Range(0, Writers).Select(writer => Task.Factory.StartNew(async () =>
        {
            gate.SignalAndWait(Token);
            // At least MinLines each, and on until the writers have met (a refusal), at most MaxLines.
            for (var line = 0; line < MaxLines && (line < MinLines || Volatile.Read(ref refused) == 0); line++)
            {
                try
                {
                    await output.WriteAsync(Encoding.ASCII.GetBytes($"writer {writer:D2} line {line:D5}\n"), Token);
                }
                catch (InvalidOperationException ex) when (ex.Message == GuardedOutput.ConcurrentWriteMessage)
                {
                    Interlocked.Increment(ref refused);
                }
                catch (Exception ex)
                {
                    lock (others)
                    {
                        others.Add(ex);
                    }
                }
            }
        }, Token, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap()));

        // The connection is whole: one more line goes out after all of that.
        await output.WriteAsync("done\n"u8.ToArray(), Token);
        harness.Finish();
        var lines = Encoding.ASCII.GetString(await reading.WithTestTimeout()).Split('\n');

        Assert.Empty(others);
        Assert.True(refused > 0, "No write was refused: the writers never met.");
        Assert.Equal("done", lines[^2]);
        var last = new int[Writers];
        Array.Fill(last, -1);
        foreach (var line in lines[..^2])
        {
            Assert.Matches(@"^writer \d\d line \d{5}$", line);
            var writer = int.Parse(line.AsSpan(7, 2), CultureInfo.InvariantCulture);
            var number = int.Parse(line.AsSpan(15, 5), CultureInfo.InvariantCulture);
            Assert.True(number > last[writer], $"writer {writer}: line {number} after {last[writer]}");
            last[writer] = number;
        }
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task The_writer_holding_memory_waits_out_another_writers_call_and_the_output_stays_usable()
    {
        // The race behind a failed run of the twenty-writer test above: a writer's Advance met another writer inside a
        // call (about to be refused) and was refused itself, between GetMemory and Advance. Its memory stayed out, and
        // every write from another thread after it was refused, the test's closing "done" among them.
        var pipe = new Pipe();
        var inner = new HoldingWriter(pipe.Writer);
        var output = new GuardedPipeWriter(inner);
        Assert.Null(await OnAnotherThread(() => "hello"u8.CopyTo(output.GetSpan(5))));

        // Another call under way: held inside the inner writer (an Advance, the one call that reaches the pipe while the
        // memory is out; here it only stands for a call that takes a while).
        inner.HoldNextAdvance();
        var inside = OnAnotherThread(() => output.Advance(0));
        await inner.Held.WaitAsync(Token);
        var advancing = OnAnotherThread(() => output.Advance(5));
        Assert.False(SpinWait.SpinUntil(() => advancing.IsCompleted, TimeSpan.FromMilliseconds(200)),
            "The Advance of the writer holding the memory did not wait for the other call.");

        inner.Release();
        Assert.Null(await inside);
        Assert.Null(await advancing);

        // Nothing is left held: a writer on yet another thread writes and flushes, after the first one's bytes.
        Assert.Null(await OnAnotherThread(() => output.Write("world"u8)));
        await output.FlushAsync(Token);
        var read = await pipe.Reader.ReadAsync(Token);
        Assert.Equal("helloworld", Encoding.ASCII.GetString(read.Buffer));
        pipe.Reader.AdvanceTo(read.Buffer.End);
    }

    [Theory(Timeout = Timeouts.Network)]
    [MemberData(nameof(ConnectionOutputs))]
    public async Task A_second_reader_fails_at_once_and_the_first_read_completes(OutputKind kind)
    {
        await using var harness = await OutputHarness.StartAsync(kind);
        var input = harness.Input;

        // One read waits for the client; a second, from elsewhere, must not steal or break it.
        var first = input.ReadAsync(Token);
        Assert.False(first.IsCompleted);
        var second = await OnAnotherThread(() => input.ReadAsync(Token));
        Assert.IsType<InvalidOperationException>(second);

        await harness.Client.WriteAsync("ping"u8.ToArray(), Token);
        await harness.Client.FlushAsync(Token);
        var result = await first.AsTask().WithTestTimeout();
        Assert.Equal("ping", Encoding.ASCII.GetString(result.Buffer));

        // Holding that result, not yet advanced: another read is refused too, and the result stays good.
        var third = await OnAnotherThread(() => input.ReadAsync(Token));
        Assert.IsType<InvalidOperationException>(third);
        Assert.Equal("ping", Encoding.ASCII.GetString(result.Buffer));
        input.AdvanceTo(result.Buffer.End);
    }

    private static void AssertConcurrentWrite(Exception? error)
    {
        var refused = Assert.IsType<InvalidOperationException>(error);
        Assert.Contains("Concurrent writes to a connection's output are not supported", refused.Message, StringComparison.Ordinal);
        Assert.Contains("Connection.SendAsync", refused.Message, StringComparison.Ordinal);
    }

    /// <summary>Runs <paramref name="action"/> on a thread of its own, and returns what it threw.</summary>
    private static Task<Exception?> OnAnotherThread(Action action)
    {
        var done = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                action();
                done.SetResult(null);
            }
            catch (Exception ex)
            {
                done.SetResult(ex);
            }
        });
        thread.Start();
        return done.Task.WithTestTimeout();
    }

    /// <summary>Runs an asynchronous call on a thread of its own; the call is expected to throw before it returns a task.</summary>
#pragma warning disable CA2012 // A call that returns instead of throwing has failed the test; what it returned does not matter.
    private static Task<Exception?> OnAnotherThread<T>(Func<ValueTask<T>> action) => OnAnotherThread(() => { _ = action(); });
#pragma warning restore CA2012

    /// <summary>Writes a known pattern until a flush has to wait for the client (at most 64 MiB).</summary>
    internal static async Task<(ValueTask<FlushResult> Flush, long Written)> WriteUntilPushedBackAsync(PipeWriter output)
    {
        long written = 0;
        while (written < 64 * 1024 * 1024)
        {
            WritePattern(output, written, Chunk);
            written += Chunk;
            var flush = output.FlushAsync(Token);
            if (!flush.IsCompleted)
            {
                return (flush, written);
            }

            await flush;
        }

        throw new InvalidOperationException("The output never pushed back.");
    }

    internal static void WritePattern(PipeWriter output, long from, int count)
    {
        var span = output.GetSpan(count)[..count];
        for (var i = 0; i < count; i++)
        {
            span[i] = (byte)((from + i) % 251);
        }

        output.Advance(count);
    }

    internal static void AssertPattern(byte[] received, long expectedLength)
    {
        Assert.Equal(expectedLength, received.Length);
        for (var i = 0; i < received.Length; i++)
        {
            if (received[i] != (byte)(i % 251))
            {
                Assert.Fail($"Byte {i} is {received[i]}, not {(byte)(i % 251)}.");
            }
        }
    }
}

/// <summary>A pipe's writer that can hold one <see cref="Advance"/> until told to go on, to keep a call under way.</summary>
internal sealed class HoldingWriter(PipeWriter inner) : PipeWriter
{
    private readonly ManualResetEventSlim _release = new();
    private volatile bool _holdNext;

    /// <summary>Released once an Advance is being held.</summary>
    public SemaphoreSlim Held { get; } = new(0);

    public void HoldNextAdvance() => _holdNext = true;

    public void Release() => _release.Set();

    public override void Advance(int bytes)
    {
        if (_holdNext)
        {
            _holdNext = false;
            Held.Release();
            _release.Wait(TestContext.Current.CancellationToken);
        }

        inner.Advance(bytes);
    }

    public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

    public override void CancelPendingFlush() => inner.CancelPendingFlush();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);
}
