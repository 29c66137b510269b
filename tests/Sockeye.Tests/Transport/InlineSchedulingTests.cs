using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Transport;

/// <summary>
/// Where a connection's work runs on the epoll transport. With inline scheduling the whole life of a short connection
/// stays on its event loop's thread (no thread-pool hop to start it or to close it); without it, the loop never runs
/// handler code.
/// </summary>
public class InlineSchedulingTests
{
    private const string LoopThreadPrefix = "sockeye-epoll-";

    [Fact(Timeout = Timeouts.Network)]
    public async Task With_inline_scheduling_a_connection_starts_and_ends_on_its_event_loop()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "The epoll transport is Linux's.");

        var (startedOn, ended) = await ServeOneExchangeAsync(inlineScheduling: true);

        Assert.StartsWith(LoopThreadPrefix, startedOn, StringComparison.Ordinal);
        Assert.StartsWith(LoopThreadPrefix, ended.ThreadName, StringComparison.Ordinal);
        Assert.Contains(": ServerClosed;", ended.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Without_inline_scheduling_the_event_loop_never_runs_the_handler_or_its_ending()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "The epoll transport is Linux's.");

        var (startedOn, ended) = await ServeOneExchangeAsync(inlineScheduling: false);

        Assert.False(startedOn?.StartsWith(LoopThreadPrefix, StringComparison.Ordinal) ?? false);
        Assert.False(ended.ThreadName?.StartsWith(LoopThreadPrefix, StringComparison.Ordinal) ?? false);
    }

    /// <summary>
    /// One request and reply; the server ends its side first and lingers for the client's, whose FIN, read by the
    /// loop, lets the closing sequence finish. Returns the thread the handler started on and the connection's end line.
    /// </summary>
    private static async Task<(string? StartedOn, RecordingLoggerProvider.LogRecord Ended)> ServeOneExchangeAsync(bool inlineScheduling)
    {
        var startedOn = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(
            async connection =>
            {
                startedOn.TrySetResult(Thread.CurrentThread.Name);
                var request = await connection.Transport.Input.ReadAtLeastAsync(5);
                connection.Transport.Input.AdvanceTo(request.Buffer.End);
                await connection.Transport.Output.WriteAsync("reply"u8.ToArray());
            },
            options => options.InlineScheduling = inlineScheduling);
        using var client = await server.ConnectAsync();

        await client.SendAsync("hello");
        Assert.Equal("reply", await client.ReceiveTextToEndAsync());
        client.HalfClose();
        var ended = await server.Logs.WaitForAsync(r => r.EventId.Id == 11);
        return (await startedOn.Task.WithTestTimeout(), ended);
    }
}
