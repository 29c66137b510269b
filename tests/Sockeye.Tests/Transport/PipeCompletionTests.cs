using System.Threading.Tasks.Sources;
using Sockeye.Transport;

namespace Sockeye.Tests.Transport;

public class PipeCompletionTests
{
    private static readonly AsyncLocal<string?> s_flowed = new();

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_continuation_registered_before_completion_runs_with_the_staged_result()
    {
        var source = new Source();
        var ran = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        source.OnCompleted(_ => ran.SetResult(source.GetResult(source.Version)), null, source.Version, ValueTaskSourceOnCompletedFlags.None);

        Assert.Equal(ValueTaskSourceStatus.Pending, source.GetStatus(source.Version));
        source.Complete(42, error: null);

        Assert.Equal(42, await ran.Task.WaitAsync(TestContext.Current.CancellationToken));
        Assert.Equal(ValueTaskSourceStatus.Succeeded, source.GetStatus(source.Version));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_continuation_registered_after_completion_still_runs()
    {
        var source = new Source();
        source.Complete(7, error: null);
        var ran = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        source.OnCompleted(_ => ran.SetResult(), null, source.Version, ValueTaskSourceOnCompletedFlags.None);

        await ran.Task.WaitAsync(TestContext.Current.CancellationToken);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task An_error_is_thrown_by_GetResult_and_a_cancellation_reads_as_canceled()
    {
        var source = new Source();
        source.Complete(0, new OperationCanceledException());
        Assert.Equal(ValueTaskSourceStatus.Canceled, source.GetStatus(source.Version));
        Assert.Throws<OperationCanceledException>(() => source.GetResult(source.Version));

        source.Reset();
        source.Complete(0, new IOException("gone"));
        Assert.Equal(ValueTaskSourceStatus.Faulted, source.GetStatus(source.Version));
        Assert.Equal("gone", Assert.Throws<IOException>(() => source.GetResult(source.Version)).Message);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task A_stale_token_and_a_second_awaiter_are_refused()
    {
        var source = new Source();
        var stale = source.Version;
        source.Reset();
        Assert.Throws<InvalidOperationException>(() => source.GetStatus(stale));

        source.OnCompleted(_ => { }, null, source.Version, ValueTaskSourceOnCompletedFlags.None);
        Assert.Throws<InvalidOperationException>(() => source.OnCompleted(_ => { }, null, source.Version, ValueTaskSourceOnCompletedFlags.None));
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_continuation_that_asks_for_the_execution_context_runs_in_it()
    {
        var source = new Source();
        var seen = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        s_flowed.Value = "registered";
        source.OnCompleted(_ => seen.SetResult(s_flowed.Value), null, source.Version, ValueTaskSourceOnCompletedFlags.FlowExecutionContext);
        s_flowed.Value = null;

        // Completed from a thread whose context knows nothing of the value.
        await Task.Run(() => source.Complete(1, error: null), TestContext.Current.CancellationToken);

        Assert.Equal("registered", await seen.Task.WaitAsync(TestContext.Current.CancellationToken));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_continuation_that_asks_for_the_scheduling_context_is_posted_to_it()
    {
        var source = new Source();
        var context = new RecordingContext();
        var ran = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var previous = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(context);
        try
        {
            source.OnCompleted(_ => ran.SetResult(SynchronizationContext.Current == context), null, source.Version, ValueTaskSourceOnCompletedFlags.UseSchedulingContext);
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
        }

        source.Complete(1, error: null);

        Assert.True(await ran.Task.WaitAsync(TestContext.Current.CancellationToken));
        Assert.Equal(1, context.Posts);
    }

    /// <summary>A value task source over the completion, as the pipes use it.</summary>
    private sealed class Source : IValueTaskSource<int>
    {
        private PipeCompletion<int> _completion;

        public short Version => _completion.Version;

        public void Reset() => _completion.Reset();

        public void Complete(int result, Exception? error)
        {
            _completion.Stage(result, error);
            _completion.Publish(this);
        }

        public int GetResult(short token) => _completion.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _completion.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _completion.OnCompleted(continuation, state, token, flags);
    }

    private sealed class RecordingContext : SynchronizationContext
    {
        private int _posts;

        public int Posts => Volatile.Read(ref _posts);

        public override void Post(SendOrPostCallback d, object? state)
        {
            Interlocked.Increment(ref _posts);
            ThreadPool.QueueUserWorkItem(_ =>
            {
                SetSynchronizationContext(this);
                d(state);
            });
        }
    }
}
