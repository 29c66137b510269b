using System.Threading.Tasks.Sources;

namespace Sockeye.Transport;

/// <summary>
/// A continuation registered with a context to honour: the execution context to run it in, a synchronization context
/// or task scheduler to run it on. <c>await</c> in an async method asks for none of them (the method's own machinery
/// flows the execution context), so <see cref="PipeCompletion{TResult}"/> keeps no fields for them and wraps the rare
/// continuation that does.
/// </summary>
internal sealed class ContinuationContext
{
    private static readonly Action<object?> s_run = static state => ((ContinuationContext)state!).Run();
    private static readonly ContextCallback s_invokeInContext = static state => ((ContinuationContext)state!).InvokeHere();
    private static readonly SendOrPostCallback s_post = static state => ((ContinuationContext)state!).Invoke();

    private readonly Action<object?> _continuation;
    private readonly object? _state;
    private readonly ExecutionContext? _executionContext;
    private readonly object? _scheduler;

    private ContinuationContext(Action<object?> continuation, object? state, ExecutionContext? executionContext, object? scheduler)
    {
        _continuation = continuation;
        _state = state;
        _executionContext = executionContext;
        _scheduler = scheduler;
    }

    /// <summary>The continuation to register: the one given when it asks for no context, a wrapper when it does.</summary>
    public static (Action<object?> Continuation, object? State) Wrap(Action<object?> continuation, object? state, ValueTaskSourceOnCompletedFlags flags)
    {
        var executionContext = (flags & ValueTaskSourceOnCompletedFlags.FlowExecutionContext) != 0 ? ExecutionContext.Capture() : null;
        object? scheduler = null;
        if ((flags & ValueTaskSourceOnCompletedFlags.UseSchedulingContext) != 0)
        {
            if (SynchronizationContext.Current is { } context && context.GetType() != typeof(SynchronizationContext))
            {
                scheduler = context;
            }
            else if (TaskScheduler.Current != TaskScheduler.Default)
            {
                scheduler = TaskScheduler.Current;
            }
        }

        return executionContext is null && scheduler is null
            ? (continuation, state)
            : (s_run, new ContinuationContext(continuation, state, executionContext, scheduler));
    }

    private void Run()
    {
        switch (_scheduler)
        {
            case SynchronizationContext context:
                context.Post(s_post, this);
                break;
            case TaskScheduler scheduler:
                _ = Task.Factory.StartNew(static state => ((ContinuationContext)state!).Invoke(), this, CancellationToken.None, TaskCreationOptions.DenyChildAttach, scheduler);
                break;
            default:
                Invoke();
                break;
        }
    }

    private void Invoke()
    {
        if (_executionContext is null)
        {
            InvokeHere();
        }
        else
        {
            ExecutionContext.Run(_executionContext, s_invokeInContext, this);
        }
    }

    private void InvokeHere() => _continuation(_state);
}
