using System.Text;
using Sockeye.Tests.Infrastructure;
using Sockeye.Transport;
using Sockeye.Transport.Linux;

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
        Assert.SkipUnless(LinuxTransport.IsSupported, "The epoll transport is Linux's.");
        await using var server = await StartAsync(inlineScheduling: true);

        // Connections are spread over the loops in turn: the second lands on another loop than the first (where there
        // are two or more), so one of them at least was accepted by a loop that is not its own.
        for (var id = 1; id <= 2; id++)
        {
            var (startedOn, readOn, ended) = await ExchangeAsync(server, id);

            Assert.StartsWith(LoopThreadPrefix, readOn, StringComparison.Ordinal);
            Assert.Equal(readOn, startedOn);
            Assert.Equal(readOn, ended.ThreadName);
            Assert.Contains(": ServerClosed;", ended.Message, StringComparison.Ordinal);
        }
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Without_inline_scheduling_the_event_loop_never_runs_the_handler_or_its_ending()
    {
        Assert.SkipUnless(LinuxTransport.IsSupported, "The epoll transport is Linux's.");
        await using var server = await StartAsync(inlineScheduling: false);

        var (startedOn, readOn, ended) = await ExchangeAsync(server, 1);

        Assert.False(startedOn?.StartsWith(LoopThreadPrefix, StringComparison.Ordinal) ?? false);
        Assert.False(readOn?.StartsWith(LoopThreadPrefix, StringComparison.Ordinal) ?? false);
        Assert.False(ended.ThreadName?.StartsWith(LoopThreadPrefix, StringComparison.Ordinal) ?? false);
    }

    private static Task<TestServer> StartAsync(bool inlineScheduling) => TestServer.StartAsync(
        async connection =>
        {
            var startedOn = Thread.CurrentThread.Name;
            var request = await connection.Transport.Input.ReadAtLeastAsync(5);
            connection.Transport.Input.AdvanceTo(request.Buffer.End);
            await connection.Transport.Output.WriteAsync(Encoding.UTF8.GetBytes($"{startedOn}|{Thread.CurrentThread.Name}"));
        },
        options =>
        {
            options.InlineScheduling = inlineScheduling;

            // What runs on an event loop is the epoll transport's: on either CI pass, these run on it.
            options.Transport = TransportKind.Linux;
        });

    /// <summary>
    /// One request and reply; the server ends its side first and lingers for the client's, whose FIN, read by the
    /// loop, lets the closing sequence finish. Returns the threads the handler started and read on (its reply says),
    /// and the connection's end line.
    /// </summary>
    private static async Task<(string? StartedOn, string? ReadOn, RecordingLoggerProvider.LogRecord Ended)> ExchangeAsync(TestServer server, int id)
    {
        using var client = await server.ConnectAsync();
        await client.SendAsync("hello");
        var threads = (await client.ReceiveTextToEndAsync()).Split('|');
        client.HalfClose();
        var ended = await server.Logs.WaitForAsync(r => r.EventId.Id == 11 && r.Message.StartsWith($"Connection {id} ended", StringComparison.Ordinal));
        return (NullIfEmpty(threads[0]), NullIfEmpty(threads[1]), ended);
    }

    private static string? NullIfEmpty(string text) => text.Length == 0 ? null : text;
}
