namespace Sockeye.Tests.Robustness;

/// <summary>
/// Waits that fail fast and say which behaviour broke, instead of running into the test's timeout with a vague
/// message (issue 17: four mutants were caught only by a test timeout, after up to five minutes).
/// </summary>
internal static class Guard
{
    /// <summary>How long something the fake clock has already made due may take on the real one: the heartbeat and a close.</summary>
    public static readonly TimeSpan Prompt = TimeSpan.FromSeconds(5);

    /// <summary>Waits for <paramref name="task"/>, and fails with <paramref name="behaviour"/> if it is not done within <paramref name="within"/>.</summary>
    public static async Task ExpectAsync(Task task, string behaviour, TimeSpan? within = null)
    {
        var limit = within ?? Prompt;
        if (await Task.WhenAny(task, Task.Delay(limit, TestContext.Current.CancellationToken)) != task)
        {
            Assert.Fail($"{behaviour} (nothing happened within {limit.TotalSeconds} s)");
        }

        await task;
    }

    /// <inheritdoc cref="ExpectAsync(Task, string, TimeSpan?)"/>
    public static async Task<T> ExpectAsync<T>(Task<T> task, string behaviour, TimeSpan? within = null)
    {
        await ExpectAsync((Task)task, behaviour, within);
        return await task;
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; wrap it in <see cref="ExpectAsync(Task, string, TimeSpan?)"/> for a deadline.</summary>
    public static async Task UntilAsync(Func<bool> condition)
    {
        while (!condition())
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>Waits for the connection to end, and fails naming <paramref name="behaviour"/> and the reason so far if it does not.</summary>
    public static async Task EndedAsync(Connection connection, ConnectionEndReason expected, string behaviour)
    {
        var closed = Infrastructure.ConnectionExtensions.WhenCanceled(connection.ConnectionClosed);
        if (await Task.WhenAny(closed, Task.Delay(Prompt, TestContext.Current.CancellationToken)) != closed)
        {
            Assert.Fail($"{behaviour}: the connection is still open {Prompt.TotalSeconds} s after it was due to end (its end reason so far: {connection.EndReason}).");
        }

        Assert.True(connection.EndReason == expected, $"{behaviour}: the connection ended as {connection.EndReason}, not {expected}.");
    }
}
