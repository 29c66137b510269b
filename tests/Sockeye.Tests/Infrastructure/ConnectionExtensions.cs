namespace Sockeye.Tests.Infrastructure;

internal static class ConnectionExtensions
{
    /// <summary>Waits until the connection has ended; its <see cref="Connection.EndReason"/> is then final.</summary>
    public static Task WaitClosedAsync(this Connection connection) =>
        connection.ConnectionClosed.WhenCanceled().WaitAsync(TestContext.Current.CancellationToken);

    /// <summary>A task that completes (without throwing) when <paramref name="token"/> is canceled.</summary>
    public static Task WhenCanceled(this CancellationToken token)
    {
        var canceled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        token.Register(() => canceled.TrySetResult());
        return canceled.Task;
    }

    /// <summary>Waits for a task with the test's deadline.</summary>
    public static Task<T> WithTestTimeout<T>(this Task<T> task) => task.WaitAsync(TestContext.Current.CancellationToken);

    /// <summary>Waits for a task with the test's deadline.</summary>
    public static Task WithTestTimeout(this Task task) => task.WaitAsync(TestContext.Current.CancellationToken);
}
