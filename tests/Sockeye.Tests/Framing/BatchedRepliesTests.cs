using System.Text;
using Sockeye.Framing;
using Sockeye.Tests.Handlers;
using Sockeye.Tests.Infrastructure;
using Sockeye.Transport;

namespace Sockeye.Tests.Framing;

/// <summary>
/// Garnet's batching, for every handler that reads with ReadMessagesAsync and answers with WriteMessage: the replies to
/// messages that arrived together leave in one flush, made when no whole message is left, without the handler asking.
/// </summary>
public class BatchedRepliesTests
{
    private static readonly ReadingReader s_reader = new();
    private static readonly ReadingWriter s_writer = new();

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Replies_to_messages_that_arrived_together_leave_in_one_flush_without_the_handler_flushing()
    {
        var (connection, output) = Counted(new InMemoryConnection());
        var run = connection.RunAsync(Doubler());

        await connection.Client.Output.WriteAsync("a 1\nb 2\nc 3\n");
        Assert.Equal("a 2\nb 4\nc 6\n", await connection.ReadTextAsync(12));
        await connection.Client.Output.WriteAsync("d 4\n");
        Assert.Equal("d 8\n", await connection.ReadTextAsync(4));
        await connection.Client.Output.CompleteAsync();
        await run.WithTestTimeout();

        Assert.Equal([12L, 4L], output.Flushes);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_reply_is_not_held_back_by_the_start_of_a_message_that_is_not_whole()
    {
        var (connection, output) = Counted(new InMemoryConnection());
        var run = connection.RunAsync(Doubler());

        await connection.Client.Output.WriteAsync("a 1\nb");
        Assert.Equal("a 2\n", await connection.ReadTextAsync(4));
        await connection.Client.Output.WriteAsync(" 2\nc 3\n");
        Assert.Equal("b 4\nc 6\n", await connection.ReadTextAsync(8));
        await connection.Client.Output.CompleteAsync();
        await run.WithTestTimeout();

        Assert.Equal([4L, 8L], output.Flushes);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Replies_go_out_when_the_client_ends_its_side_before_the_handler_returns()
    {
        var connection = new InMemoryConnection();
        var leave = new TaskCompletionSource();
        var run = connection.RunAsync(ConnectionHandler.Create(async c =>
        {
            await foreach (var reading in c.ReadMessagesAsync(s_reader))
            {
                c.WriteMessage(s_writer, reading);
            }

            await leave.Task;
        }));

        await connection.Client.Output.WriteAsync("last 1\n");
        await connection.Client.Output.CompleteAsync();

        Assert.Equal("last 1\n", await connection.ReadTextAsync(7));
        leave.SetResult();
        await run.WithTestTimeout();
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_batch_whose_replies_outgrow_the_send_buffer_is_flushed_as_it_goes()
    {
        // 64 short requests that each ask for a 4 KiB reply: 256 KiB of replies to 600-odd bytes that arrived together.
        var requests = string.Concat(Enumerable.Range(0, 64).Select(i => $"r {i}\n"));
        var (connection, output) = Counted(InMemory.WithInput(new ScriptedPipeReader([Encoding.ASCII.GetBytes(requests)])));
        var framer = new LineFramer();
        var reply = new byte[4095];

        var received = connection.ReadAllTextAsync();

        await connection.RunAsync(ConnectionHandler.Create(async c =>
        {
            await foreach (var _ in c.ReadMessagesAsync(s_reader))
            {
                c.WriteMessage(framer, reply);
            }
        })).WithTestTimeout();

        Assert.Equal(64 * 4096, (await received.WithTestTimeout()).Length);
        Assert.All(output.Flushes, bytes => Assert.InRange(bytes, 1, MessageReader<Reading>.BatchFlushThreshold));
        Assert.Equal(4, output.Flushes.Count);
    }

    private static ConnectionHandler Doubler() => ConnectionHandler.Create(async connection =>
    {
        await foreach (var reading in connection.ReadMessagesAsync(s_reader))
        {
            connection.WriteMessage(s_writer, reading with { Value = reading.Value * 2 });
        }
    });

    private static (InMemoryConnection Connection, CountingWriter Output) Counted(InMemoryConnection connection)
    {
        var output = new CountingWriter(connection.Transport.Output);
        connection.Replace(connection.Transport.Input, output);
        return (connection, output);
    }
}
