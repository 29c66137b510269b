using System.Buffers;
using Sockeye.Transport;
using Sockeye.Transport.Linux;

namespace Sockeye.Tests.Transport;

public class ConnectionInputTests
{
    [Theory(Timeout = Timeouts.Fast)]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_pending_read_completes_when_bytes_are_committed(bool inline)
    {
        var (input, _, pool) = Create(inline: inline);

        var reading = input.ReadAsync(TestContext.Current.CancellationToken);
        Assert.False(reading.IsCompleted);
        Receive(input, "hello"u8);
        var result = await reading.AsTask().WaitAsync(TestContext.Current.CancellationToken);

        Assert.Equal("hello"u8.ToArray(), result.Buffer.ToArray());
        input.AdvanceTo(result.Buffer.End);
        Assert.Equal(0, pool.RentedBlocks);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_wait_then_take_reads_what_arrived_and_reports_a_canceled_wait()
    {
        var (input, _, _) = Create();
        var waiting = input.WaitAsync().AsTask();
        Assert.False(waiting.IsCompleted);
        Receive(input, "hello"u8);
        await waiting.WaitAsync(TestContext.Current.CancellationToken);
        var result = input.TakeResult();
        Assert.Equal("hello"u8.ToArray(), result.Buffer.ToArray());
        Assert.False(result.IsCanceled);
        input.AdvanceTo(result.Buffer.End);

        waiting = input.WaitAsync().AsTask();
        input.CancelPendingRead();
        await waiting.WaitAsync(TestContext.Current.CancellationToken);
        result = input.TakeResult();
        Assert.True(result.IsCanceled);
        input.AdvanceTo(result.Buffer.End);

        input.CancelPendingRead();
        Assert.True(input.WaitAsync().AsTask().IsCompletedSuccessfully);
        Assert.True(input.TakeResult().IsCanceled);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task An_inline_reader_is_woken_once_for_an_arrival_that_spans_many_blocks()
    {
        var (input, _, pool) = Create(inline: true);
        input.BeginReceive(out _);
        var (first, last, arrival) = Chain(pool, [512, .. Enumerable.Repeat(PinnedBlockMemoryPool.BlockSize, 16)]);

        // The continuation runs inside EndReceive (inline): what it sees is what was committed when it was woken.
        var reading = ReadOnce();
        Assert.False(reading.IsCompleted);

        Assert.True(input.EndReceive(0, first, last, arrival.Length));

        Assert.True(reading.IsCompleted);
        Assert.Equal(arrival.Length, await reading);

        async Task<long> ReadOnce()
        {
            var result = await input.ReadAsync(TestContext.Current.CancellationToken).ConfigureAwait(false);
            input.AdvanceTo(result.Buffer.End);
            return result.Buffer.Length;
        }
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Examined_bytes_are_not_returned_again_until_more_arrive()
    {
        var (input, _, _) = Create();
        Receive(input, "abc"u8);
        var first = await input.ReadAsync(TestContext.Current.CancellationToken);
        input.AdvanceTo(first.Buffer.Start, first.Buffer.End);

        var second = input.ReadAsync(TestContext.Current.CancellationToken);
        Assert.False(second.IsCompleted);
        Receive(input, "def"u8);

        Assert.Equal("abcdef"u8.ToArray(), (await second).Buffer.ToArray());
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Unexamined_bytes_are_returned_at_once()
    {
        var (input, _, _) = Create();
        Receive(input, "abcdef"u8);
        var first = await input.ReadAsync(TestContext.Current.CancellationToken);
        input.AdvanceTo(first.Buffer.GetPosition(2), first.Buffer.GetPosition(3));

        var second = input.ReadAsync(TestContext.Current.CancellationToken);

        Assert.True(second.IsCompletedSuccessfully);
        Assert.Equal("cdef"u8.ToArray(), (await second).Buffer.ToArray());
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Bytes_across_many_blocks_read_back_in_order_whatever_is_consumed_each_time()
    {
        var random = new Random(20261125);
        var (input, _, pool) = Create(pauseThreshold: long.MaxValue);
        var sent = new byte[200_000];
        random.NextBytes(sent);
        var received = new List<byte>();
        var offset = 0;

        while (received.Count < sent.Length)
        {
            if (offset < sent.Length && random.Next(3) > 0)
            {
                var memory = input.GetReceiveMemory();
                var count = Math.Min(Math.Min(memory.Length, random.Next(1, 9000)), sent.Length - offset);
                sent.AsSpan(offset, count).CopyTo(memory.Span);
                input.Commit(count);
                offset += count;
            }

            if (offset == sent.Length)
            {
                // Everything is sent: end the stream, so bytes examined but not consumed are returned again.
                input.CompleteWriter(null);
            }

            if (input.TryRead(out var result))
            {
                var take = random.Next(0, (int)result.Buffer.Length + 1);
                received.AddRange(result.Buffer.Slice(0, take).ToArray());
                var examined = random.Next(2) == 0 ? result.Buffer.End : result.Buffer.GetPosition(take);
                input.AdvanceTo(result.Buffer.GetPosition(take), examined);
            }
        }

        Assert.Equal(sent, received.ToArray());
        Assert.Equal(0, pool.RentedBlocks);
        await Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Receiving_pauses_at_the_threshold_and_resumes_at_half()
    {
        var (input, transport, _) = Create(pauseThreshold: 8192);

        Assert.True(ReceiveCount(input, 4096));
        Assert.False(ReceiveCount(input, 4096));
        Assert.True(input.IsPaused);

        var result = await input.ReadAsync(TestContext.Current.CancellationToken);
        input.AdvanceTo(result.Buffer.GetPosition(4096));
        Assert.Equal(0, transport.Resumed);
        result = await input.ReadAsync(TestContext.Current.CancellationToken);
        input.AdvanceTo(result.Buffer.GetPosition(1));

        Assert.Equal(1, transport.Resumed);
        Assert.False(input.IsPaused);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task The_end_of_the_stream_is_reported_with_what_is_left()
    {
        var (input, _, _) = Create();
        Receive(input, "last words"u8);
        input.CompleteWriter(null);

        var result = await input.ReadAsync(TestContext.Current.CancellationToken);

        Assert.True(result.IsCompleted);
        Assert.Equal("last words"u8.ToArray(), result.Buffer.ToArray());
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_failed_connection_throws_its_error_from_the_read()
    {
        var (input, _, _) = Create();
        var pending = input.ReadAsync(TestContext.Current.CancellationToken);

        input.CompleteWriter(new ConnectionResetException());

        await Assert.ThrowsAsync<ConnectionResetException>(async () => await pending);
        await Assert.ThrowsAsync<ConnectionResetException>(async () => await input.ReadAsync(TestContext.Current.CancellationToken));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Cancel_pending_read_completes_the_read_as_canceled_now_or_next_time()
    {
        var (input, _, _) = Create();
        var pending = input.ReadAsync(TestContext.Current.CancellationToken);
        input.CancelPendingRead();
        var canceled = await pending;
        Assert.True(canceled.IsCanceled);
        input.AdvanceTo(canceled.Buffer.Start);

        input.CancelPendingRead();
        var next = await input.ReadAsync(TestContext.Current.CancellationToken);

        Assert.True(next.IsCanceled);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_canceled_token_ends_the_read_and_the_reader_stays_usable()
    {
        var (input, _, _) = Create();
        using var source = new CancellationTokenSource();
        var pending = input.ReadAsync(source.Token);

        source.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pending);
        Receive(input, "x"u8);

        Assert.Equal("x"u8.ToArray(), (await input.ReadAsync(TestContext.Current.CancellationToken)).Buffer.ToArray());
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Completing_the_reader_tells_the_transport_and_releases_the_blocks()
    {
        var (input, transport, pool) = Create();
        Receive(input, "unread"u8);

        input.Complete();

        Assert.Equal(1, transport.ReaderCompletions);
        Assert.Equal(0, pool.RentedBlocks);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await input.ReadAsync(TestContext.Current.CancellationToken));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_receive_that_brings_nothing_leaves_no_block_behind()
    {
        var (input, _, pool) = Create();

        input.GetReceiveMemory();
        input.Abandon();

        Assert.Equal(0, pool.RentedBlocks);
        await Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Reading_again_before_advancing_is_refused()
    {
        var (input, _, _) = Create();
        Receive(input, "a"u8);
        await input.ReadAsync(TestContext.Current.CancellationToken);

        Assert.Throws<InvalidOperationException>(() => input.TryRead(out _));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_receive_fills_the_last_blocks_room_then_the_input_takes_the_loops_blocks_as_they_are()
    {
        var (input, _, pool) = Create();
        Receive(input, "hello"u8);
        var result = await input.ReadAsync(TestContext.Current.CancellationToken);
        input.AdvanceTo(result.Buffer.GetPosition(2));

        var room = input.BeginReceive(out var limit);
        Assert.Equal(PinnedBlockMemoryPool.BlockSize - 5, room.Length);
        Assert.True(limit >= 2048);
        "abc"u8.CopyTo(room.Span);
        var (first, last, arrival) = Chain(pool, 4096, 10);
        Assert.True(input.EndReceive(3, first, last, arrival.Length));

        result = await input.ReadAsync(TestContext.Current.CancellationToken);
        Assert.Equal([.. "lloabc"u8, .. arrival], result.Buffer.ToArray());
        Assert.Equal(arrival[^10..], result.Buffer.Slice(6 + 4096).ToArray());
        var segments = Segments(result.Buffer);
        Assert.Same(first.Array, segments[1]);
        Assert.Same(last.Array, segments[2]);

        input.AdvanceTo(result.Buffer.GetPosition(6 + 4100));
        result = await input.ReadAsync(TestContext.Current.CancellationToken);
        Assert.Equal(arrival[4100..], result.Buffer.ToArray());
        input.AdvanceTo(result.Buffer.End);
        Assert.Equal(0, pool.RentedBlocks);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_chain_received_into_an_empty_input_continues_the_positions_of_what_was_read_before()
    {
        var (input, _, pool) = Create();
        Receive(input, "hello"u8);
        var result = await input.ReadAsync(TestContext.Current.CancellationToken);
        input.AdvanceTo(result.Buffer.End);
        Assert.Equal(0, pool.RentedBlocks);

        Assert.True(input.BeginReceive(out _).IsEmpty);
        var (first, last, arrival) = Chain(pool, 512, 4096, 100);
        Assert.True(input.EndReceive(0, first, last, arrival.Length));

        result = await input.ReadAsync(TestContext.Current.CancellationToken);
        Assert.Equal(arrival, result.Buffer.ToArray());
        Assert.Equal(arrival[1000..], result.Buffer.Slice(1000).ToArray());
        input.AdvanceTo(result.Buffer.GetPosition(4650));
        result = await input.ReadAsync(TestContext.Current.CancellationToken);
        Assert.Equal(arrival[4650..], result.Buffer.ToArray());
        input.AdvanceTo(result.Buffer.End);
        Assert.Equal(0, pool.RentedBlocks);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Blocks_received_after_the_reader_completed_go_back_to_the_pool()
    {
        await Task.Yield();
        var (input, _, pool) = Create();
        Receive(input, "hello"u8);
        input.BeginReceive(out _);
        input.Complete();
        var (first, last, arrival) = Chain(pool, 4096, 4096);

        Assert.True(input.EndReceive(10, first, last, arrival.Length));

        Assert.Equal(0, pool.RentedBlocks);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task The_loops_receive_blocks_count_as_rented_once_a_connection_takes_them()
    {
        await Task.Yield();
        var pool = new PinnedBlockMemoryPool();
        using var blocks = new ReceiveBlocks(pool);
        var small = blocks.Block(0);
        var whole = blocks.Block(1);
        Assert.Equal(PinnedBlockMemoryPool.SmallBlockSize, small.Array.Length);
        Assert.Equal(PinnedBlockMemoryPool.BlockSize, whole.Array.Length);
        Assert.Equal(0, pool.RentedBlocks);

        blocks.HandedOn(0, 2);
        Assert.Equal(2, pool.RentedBlocks);
        Assert.NotSame(small, blocks.Block(0));
        Assert.NotSame(whole, blocks.Block(1));
        Assert.Equal(2, pool.RentedBlocks);

        small.Dispose();
        whole.Dispose();
        Assert.Equal(0, pool.RentedBlocks);
    }

    /// <summary>Spare blocks filled with random bytes, linked as the receiver links them, and counted as adopted.</summary>
    private static (BufferSegment First, BufferSegment Last, byte[] Bytes) Chain(PinnedBlockMemoryPool pool, params int[] sizes)
    {
        var bytes = new byte[sizes.Sum()];
        Random.Shared.NextBytes(bytes);
        BufferSegment? first = null;
        BufferSegment? last = null;
        var offset = 0;
        foreach (var size in sizes)
        {
            var block = pool.RentSpare(small: size <= PinnedBlockMemoryPool.SmallBlockSize);
            bytes.AsSpan(offset, size).CopyTo(block.Array);
            block.End = size;
            offset += size;
            if (last is null)
            {
                first = block;
            }
            else
            {
                last.SetNext(block);
            }

            last = block;
        }

        pool.Adopted(sizes.Length);
        return (first!, last!, bytes);
    }

    private static List<byte[]> Segments(ReadOnlySequence<byte> buffer)
    {
        var arrays = new List<byte[]>();
        foreach (var memory in buffer)
        {
            Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(memory, out var array));
            arrays.Add(array.Array!);
        }

        return arrays;
    }

    private static (ConnectionInput Input, FakeInputTransport Transport, PinnedBlockMemoryPool Pool) Create(long pauseThreshold = 1024 * 1024, bool inline = true)
    {
        var pool = new PinnedBlockMemoryPool();
        var transport = new FakeInputTransport();
        return (new ConnectionInput(new PipeSettings(pool, pauseThreshold, inline), transport), transport, pool);
    }

    private static void Receive(ConnectionInput input, ReadOnlySpan<byte> data)
    {
        var memory = input.GetReceiveMemory();
        data.CopyTo(memory.Span);
        input.Commit(data.Length);
    }

    private static bool ReceiveCount(ConnectionInput input, int count)
    {
        var memory = input.GetReceiveMemory();
        var take = Math.Min(count, memory.Length);
        memory.Span[..take].Fill(1);
        var keepGoing = input.Commit(take);
        return take == count ? keepGoing : ReceiveCount(input, count - take);
    }

    private sealed class FakeInputTransport : IInputTransport
    {
        public int Resumed { get; private set; }

        public int ReaderCompletions { get; private set; }

        public void ResumeReceiving() => Resumed++;

        public void ReaderCompleted() => ReaderCompletions++;
    }
}
