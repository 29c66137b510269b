using System.Buffers;
using System.IO.Pipelines;
using Sockeye.Transport;

namespace Sockeye.Tests.Transport;

/// <summary>The testing kit's client writing into a <see cref="ConnectionInput"/>, as a socket's transport would.</summary>
public class InMemoryInputTests
{
    private const int Limit = 8 * 1024;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Random_writes_and_partial_reads_keep_every_byte_in_order_within_the_receive_buffer(int seed)
    {
        var input = Create();
        var random = new Random(seed);
        var data = new byte[300_000];
        random.NextBytes(data);
        var largest = 0L;
        var received = new MemoryStream();

        var reader = Task.Run(
            async () =>
            {
                var consumeRandom = new Random(seed + 100);
                while (true)
                {
                    var result = await input.Reader.ReadAsync(Token);
                    largest = Math.Max(largest, result.Buffer.Length);

                    // Consume part of what arrived, sometimes nothing, and examine all of it: the rest waits for more.
                    // A full input is consumed whole: holding it would stall the writer, as it would stall a socket.
                    var length = result.Buffer.Length;
                    var take = result.IsCompleted || length >= Limit ? length : consumeRandom.NextInt64(length + 1);
                    foreach (var segment in result.Buffer.Slice(0, take))
                    {
                        received.Write(segment.Span);
                    }

                    input.Reader.AdvanceTo(result.Buffer.GetPosition(take), result.Buffer.End);
                    if (result.IsCompleted && take == length)
                    {
                        return;
                    }
                }
            },
            Token);

        var sent = 0;
        while (sent < data.Length)
        {
            var count = Math.Min(random.Next(1, 20_000), data.Length - sent);
            var flush = await input.Writer.WriteAsync(data.AsMemory(sent, count), Token);
            Assert.False(flush.IsCanceled);
            Assert.False(flush.IsCompleted);
            sent += count;
        }

        await input.Writer.CompleteAsync();
        await reader.WaitAsync(Token);

        Assert.Equal(data, received.ToArray());
        Assert.InRange(largest, 1, Limit + 2048);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_flush_that_waits_for_room_can_be_canceled_and_the_next_flush_sends_the_rest()
    {
        var input = Create();
        var data = Pattern(3 * Limit);

        var flush = input.Writer.WriteAsync(data, Token);
        Assert.False(flush.IsCompleted);
        input.Writer.CancelPendingFlush();
        var canceled = await flush.AsTask().WaitAsync(Token);
        Assert.True(canceled.IsCanceled);

        // What did not fit is still the writer's: the next flush sends it once the reader makes room.
        var rest = input.Writer.FlushAsync(Token).AsTask();
        var received = await ReadAllAsync(input.Reader, data.Length);
        Assert.False((await rest.WaitAsync(Token)).IsCanceled);
        Assert.Equal(data, received);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_flush_that_waits_ends_as_completed_when_the_reader_completes()
    {
        var input = Create();

        var flush = input.Writer.WriteAsync(Pattern(3 * Limit), Token);
        Assert.False(flush.IsCompleted);
        await input.Reader.CompleteAsync();

        Assert.True((await flush.AsTask().WaitAsync(Token)).IsCompleted);
        Assert.True((await input.Writer.WriteAsync(new byte[10], Token)).IsCompleted);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Completing_the_writer_delivers_what_was_written_and_not_flushed_then_the_end()
    {
        var input = Create();
        input.Writer.Write("unflushed"u8);
        await input.Writer.CompleteAsync();

        var result = await input.Reader.ReadAsync(Token);
        Assert.Equal("unflushed"u8.ToArray(), result.Buffer.ToArray());
        Assert.True(result.IsCompleted);
        input.Reader.AdvanceTo(result.Buffer.End);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Completing_the_writer_with_an_error_fails_the_next_read()
    {
        var input = Create();
        await input.Writer.CompleteAsync(new ConnectionResetException("reset"));

        await Assert.ThrowsAsync<ConnectionResetException>(async () => await input.Reader.ReadAsync(Token));
    }

    private static InMemoryInput Create() =>
        new(new PipeSettings(new PinnedBlockMemoryPool(), Limit, inlineContinuations: false));

    private static byte[] Pattern(int length)
    {
        var data = new byte[length];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = (byte)(i % 251);
        }

        return data;
    }

    private static async Task<byte[]> ReadAllAsync(PipeReader reader, int count)
    {
        var received = new ArrayBufferWriter<byte>();
        while (received.WrittenCount < count)
        {
            var result = await reader.ReadAsync(Token);
            foreach (var segment in result.Buffer)
            {
                received.Write(segment.Span);
            }

            reader.AdvanceTo(result.Buffer.End);
        }

        return received.WrittenSpan.ToArray();
    }
}
