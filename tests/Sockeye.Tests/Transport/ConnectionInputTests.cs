using System.Buffers;
using Sockeye.Transport;

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
        var (input, _, _) = Create(inline: true);
        var arrival = new byte[64 * 1024];
        Random.Shared.NextBytes(arrival);

        // The continuation runs inside Append (inline): what it sees is what was committed when it was woken.
        var reading = ReadOnce();
        Assert.False(reading.IsCompleted);

        Assert.True(input.Append(arrival));

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
    public async Task Appended_arrivals_fill_the_last_block_then_go_on_in_the_next_in_order()
    {
        var (input, _, pool) = Create();
        var sent = new List<byte>();
        void Append(int count, byte first)
        {
            var data = Enumerable.Range(0, count).Select(i => (byte)(first + i)).ToArray();
            Assert.True(input.Append(data));
            sent.AddRange(data);
        }

        Append(32, 1);
        Assert.Equal(1, pool.RentedBlocks);
        Append(PinnedBlockMemoryPool.SmallBlockSize - 32, 50);
        Assert.Equal(1, pool.RentedBlocks);
        Append(100, 7);
        Assert.Equal(2, pool.RentedBlocks);
        Append(PinnedBlockMemoryPool.BlockSize + 300, 9);
        Assert.Equal(3, pool.RentedBlocks);

        var result = await input.ReadAsync(TestContext.Current.CancellationToken);
        Assert.Equal(sent.ToArray(), result.Buffer.ToArray());
        input.AdvanceTo(result.Buffer.End);
        Assert.Equal(0, pool.RentedBlocks);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task An_arrival_after_the_reader_completed_is_dropped_and_holds_no_block()
    {
        var (input, transport, pool) = Create();
        input.Complete();

        Assert.True(input.Append(new byte[100]));
        Assert.True(input.Append(new byte[PinnedBlockMemoryPool.BlockSize * 3]));
        Assert.Equal(0, pool.RentedBlocks);
        Assert.Equal(1, transport.ReaderCompletions);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_read_between_messages_ends_canceled_when_the_connection_is_asked_to_close_and_nothing_is_left_for_the_next_read()
    {
        var (input, _, _) = Create();
        var connection = new InMemoryConnection();
        var token = TestContext.Current.CancellationToken;

        // Data first: the read returns it.
        Receive(input, "one"u8);
        var result = await input.ReadUntilCloseRequestedAsync(connection, token);
        Assert.False(result.IsCanceled);
        input.AdvanceTo(result.Buffer.End);

        // Waiting: the request to close ends it, canceled (on the thread pool, so awaited here).
        var waiting = input.ReadUntilCloseRequestedAsync(connection, token).AsTask();
        Assert.False(waiting.IsCompleted);
        connection.RequestClose();
        input.OnCloseRequested();
        result = await waiting.WaitAsync(token);
        Assert.True(result.IsCanceled);
        input.AdvanceTo(result.Buffer.Start);

        // Asked already: the next such read ends at once; an ordinary read is not canceled by it.
        result = await input.ReadUntilCloseRequestedAsync(connection, token);
        Assert.True(result.IsCanceled);
        input.AdvanceTo(result.Buffer.Start);
        var reading = input.ReadAsync(token).AsTask();
        input.OnCloseRequested();
        Assert.False(reading.IsCompleted);
        Receive(input, "two"u8);
        result = await reading.WaitAsync(token);
        Assert.False(result.IsCanceled);
        Assert.Equal("two"u8.ToArray(), result.Buffer.ToArray());
        input.AdvanceTo(result.Buffer.End);
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
