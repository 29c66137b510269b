using Microsoft.Extensions.Logging.Abstractions;
using Sockeye.Transport;
using Sockeye.Transport.Linux;

namespace Sockeye.Tests.Transport;

/// <summary>
/// <see cref="EventLoop.Defer"/>, which push queues drain through on Linux: work a loop's thread defers runs once the
/// loop's current round is handled, so a relay that broadcasts every message of one receive sends to each member once,
/// after the last of them, and wakes another loop once, not per message.
/// </summary>
public class EventLoopDeferTests
{
    [Fact(Timeout = Timeouts.Fast)]
    public async Task Work_a_loop_defers_for_itself_runs_on_it_after_the_work_that_deferred_it_in_order()
    {
        Assert.SkipUnless(LinuxTransport.IsSupported, "The epoll loop is Linux's.");
        using var loop = new EventLoop(0, NullLogger.Instance);
        var log = new Log();
        var c = new Step(log, "C");
        var a = new Step(log, "A", () => loop.Defer(c));
        var b = new Step(log, "B");
        loop.Post(new Step(log, "W", () =>
        {
            loop.Defer(a);
            loop.Defer(b);
            log.Add("W-end");
        }));

        await c.Ran.Task;

        // Deferred work waits for the round (W) to finish, runs in the order it was deferred, and what it defers in turn
        // (C) runs before the loop waits again; all on the loop's own thread.
        Assert.Equal(["W", "W-end", "A", "B", "C"], log.Names);
        Assert.All(log.Threads, thread => Assert.Equal("sockeye-epoll-0", thread));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Work_deferred_from_another_thread_is_posted_to_the_loop()
    {
        Assert.SkipUnless(LinuxTransport.IsSupported, "The epoll loop is Linux's.");
        using var loop = new EventLoop(3, NullLogger.Instance);
        var log = new Log();
        var step = new Step(log, "X");

        loop.Defer(step);

        await step.Ran.Task;
        Assert.Equal(["sockeye-epoll-3"], log.Threads);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Work_a_loop_defers_for_another_loop_is_posted_there_once_its_round_is_done()
    {
        Assert.SkipUnless(LinuxTransport.IsSupported, "The epoll loop is Linux's.");
        using var first = new EventLoop(1, NullLogger.Instance);
        using var second = new EventLoop(2, NullLogger.Instance);
        var log = new Log();

        // The second loop is held inside a work item of its own, so that what is posted to it stays in its queue
        // where the test can count it, rather than running at once.
        using var release = new ManualResetEventSlim();
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        second.Post(new Step(log, "hold", () =>
        {
            held.SetResult();
            release.Wait(TimeSpan.FromSeconds(10));
        }));
        await held.Task;

        var y = new Step(log, "Y");
        var z = new Step(log, "Z");
        var postedDuringRound = -1;
        var deferrer = new Step(log, "W", () =>
        {
            second.Defer(y);
            second.Defer(z);
            postedDuringRound = second.PostedWorkCount;
            log.Add("W-end");
        });
        try
        {
            first.Post(deferrer);
            await deferrer.Ran.Task;
        }
        finally
        {
            release.Set();
        }

        await z.Ran.Task;

        // Nothing reached the second loop while the first loop's round went on; then both, in order, on the second loop.
        Assert.Equal(0, postedDuringRound);
        Assert.Equal(["hold", "W", "W-end", "Y", "Z"], log.Names);
        Assert.Equal(["sockeye-epoll-2", "sockeye-epoll-1", "sockeye-epoll-1", "sockeye-epoll-2", "sockeye-epoll-2"], log.Threads);
    }

    private sealed class Log
    {
        private readonly Lock _gate = new();
        private readonly List<(string Name, string? Thread)> _entries = [];

        public string[] Names
        {
            get
            {
                lock (_gate)
                {
                    return [.. _entries.Select(e => e.Name)];
                }
            }
        }

        public string?[] Threads
        {
            get
            {
                lock (_gate)
                {
                    return [.. _entries.Select(e => e.Thread)];
                }
            }
        }

        public void Add(string name)
        {
            lock (_gate)
            {
                _entries.Add((name, Thread.CurrentThread.Name));
            }
        }
    }

    private sealed class Step(Log log, string name, Action? then = null) : IEventLoopWork
    {
        public TaskCompletionSource Ran { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Execute()
        {
            log.Add(name);
            then?.Invoke();
            Ran.TrySetResult();
        }
    }
}
