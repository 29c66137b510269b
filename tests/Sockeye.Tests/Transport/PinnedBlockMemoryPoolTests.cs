using Sockeye.Transport;

namespace Sockeye.Tests.Transport;

public class PinnedBlockMemoryPoolTests
{
    [Fact(Timeout = Timeouts.Fast)]
    public async Task An_event_loop_thread_gets_back_the_block_it_returned_last_and_keeps_a_bounded_number_of_each_size()
    {
        using var pool = new PinnedBlockMemoryPool();
        var kept = new List<BufferSegment>();
        var keptSmall = new List<BufferSegment>();
        var loop = new Thread(() =>
        {
            pool.KeepBlocksOnThisThread();

            // Last in, first out: the block just freed, still in the cache, is the next one rented.
            var first = pool.RentSegment(0);
            var second = pool.RentSegment(0);
            first.Dispose();
            second.Dispose();
            Assert.Same(second, pool.RentSegment(0));
            second.Dispose();

            // Two more returned than it keeps, of each size: the thread keeps its share (enough whole blocks for a
            // scattered receive and the arrival before it), and the other two go to the pool's shared store.
            var blocks = Enumerable.Range(0, PinnedBlockMemoryPool.ThreadWholeBlocks + 2).Select(_ => pool.RentSegment(0)).ToList();
            blocks.ForEach(block => block.Dispose());
            kept.AddRange(blocks);
            var small = Enumerable.Range(0, PinnedBlockMemoryPool.ThreadSmallBlocks + 2).Select(_ => pool.RentSegment(0, small: true)).ToList();
            small.ForEach(block => block.Dispose());
            keptSmall.AddRange(small);
        });
        loop.Start();
        await Task.Run(() => loop.Join(), TestContext.Current.CancellationToken).WaitAsync(TestContext.Current.CancellationToken);
        Assert.Equal(PinnedBlockMemoryPool.ThreadWholeBlocks + 2, kept.Distinct().Count());
        Assert.Equal(0, pool.RentedBlocks);

        // Another thread, with no blocks of its own, gets the two from the shared store, then a new one.
        var shared = new[] { pool.RentSegment(0), pool.RentSegment(0) };
        Assert.All(shared, block => Assert.Contains(block, kept));
        Assert.DoesNotContain(pool.RentSegment(0), kept);
        var sharedSmall = new[] { pool.RentSegment(0, small: true), pool.RentSegment(0, small: true) };
        Assert.All(sharedSmall, block => Assert.Contains(block, keptSmall));
        Assert.DoesNotContain(pool.RentSegment(0, small: true), keptSmall);
        Assert.Equal(6, pool.RentedBlocks);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Blocks_rented_together_are_counted_once_and_those_given_back_go_to_the_threads_own_store()
    {
        using var pool = new PinnedBlockMemoryPool();
        var loop = new Thread(() =>
        {
            pool.KeepBlocksOnThisThread();
            var blocks = new BufferSegment?[16];
            pool.RentSegments(blocks);
            Assert.Equal(16, pool.RentedBlocks);
            Assert.Equal(16, blocks.Distinct().Count());
            Assert.All(blocks, block => Assert.Equal(PinnedBlockMemoryPool.BlockSize, block!.Available.Length));

            // Four kept, twelve given back: the next rent gets the last one given back.
            pool.ReturnSegments(blocks.AsSpan(4));
            Assert.Equal(4, pool.RentedBlocks);
            Assert.Same(blocks[^1], pool.RentSegment(0));
        });
        loop.Start();
        await Task.Run(() => loop.Join(), TestContext.Current.CancellationToken).WaitAsync(TestContext.Current.CancellationToken);
        Assert.Equal(5, pool.RentedBlocks);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task A_thread_that_keeps_no_blocks_returns_them_to_the_shared_store()
    {
        using var pool = new PinnedBlockMemoryPool();
        var block = pool.RentSegment(0, small: true);
        block.Dispose();

        Assert.Same(block, pool.RentSegment(0, small: true));
        return Task.CompletedTask;
    }
}
