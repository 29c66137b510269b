using Sockeye.Transport;

namespace Sockeye.Tests.Transport;

public class PinnedBlockMemoryPoolTests
{
    [Fact(Timeout = Timeouts.Fast)]
    public async Task An_event_loop_thread_gets_back_the_block_it_returned_last_and_keeps_at_most_eight_of_each_size()
    {
        using var pool = new PinnedBlockMemoryPool();
        var kept = new List<BufferSegment>();
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

            // Ten returned: the thread keeps eight, and the other two go to the pool's shared store.
            var blocks = Enumerable.Range(0, 10).Select(_ => pool.RentSegment(0)).ToList();
            blocks.ForEach(block => block.Dispose());
            kept.AddRange(blocks);
        });
        loop.Start();
        await Task.Run(() => loop.Join(), TestContext.Current.CancellationToken).WaitAsync(TestContext.Current.CancellationToken);
        Assert.Equal(10, kept.Distinct().Count());
        Assert.Equal(0, pool.RentedBlocks);

        // Another thread, with no blocks of its own, gets the two from the shared store, then a new one.
        var shared = new[] { pool.RentSegment(0), pool.RentSegment(0) };
        Assert.All(shared, block => Assert.Contains(block, kept));
        Assert.DoesNotContain(pool.RentSegment(0), kept);
        Assert.Equal(3, pool.RentedBlocks);
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
