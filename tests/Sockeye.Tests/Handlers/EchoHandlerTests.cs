using System.Buffers;
using System.Text;
using Sockeye.Framing;
using Sockeye.Handlers;
using Sockeye.Tests.Infrastructure;
using Sockeye.Transport;

namespace Sockeye.Tests.Handlers;

public class EchoHandlerTests
{
    [Fact(Timeout = Timeouts.Fast)]
    public async Task Sends_every_chunk_back_as_it_arrives()
    {
        var connection = new InMemoryConnection();
        var run = connection.RunAsync(new EchoHandler());

        await connection.Client.Output.WriteAsync("first");
        var first = await connection.Client.Input.ReadAtLeastAsync(5, TestContext.Current.CancellationToken);
        Assert.Equal("first"u8.ToArray(), first.Buffer.ToArray());
        connection.Client.Input.AdvanceTo(first.Buffer.End);

        await connection.Client.Output.WriteAsync("second");
        await connection.Client.Output.CompleteAsync();
        await run.WithTestTimeout();

        Assert.Equal("second", await connection.ReadAllTextAsync());
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task With_a_framer_echoes_each_message_on_a_connection_that_stays_open()
    {
        var connection = new InMemoryConnection();
        var run = connection.RunAsync(new EchoHandler(new LineFramer()));

        await connection.Client.Output.WriteAsync("one\ntw");
        Assert.Equal("one\n", await connection.ReadTextAsync(4));
        await connection.Client.Output.WriteAsync("o\r\n");
        Assert.Equal("two\n", await connection.ReadTextAsync(4));
        Assert.False(run.IsCompleted);

        await connection.Client.Output.CompleteAsync();
        await run.WithTestTimeout();
        Assert.Equal(ConnectionEndReason.ServerClosed, connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task With_a_framer_echoes_messages_split_at_every_position()
    {
        var framer = new LengthPrefixFramer();
        var frames = new ArrayBufferWriter<byte>();
        framer.WriteMessage("first"u8, frames);
        framer.WriteMessage("second"u8, frames);
        var data = frames.WrittenSpan.ToArray();

        for (var position = 0; position <= data.Length; position++)
        {
            var connection = InMemory.WithInput(ScriptedPipeReader.SplitAt(data, position));

            await connection.RunAsync(new EchoHandler(framer)).WithTestTimeout();

            Assert.Equal(Encoding.UTF8.GetString(data), await connection.ReadAllTextAsync());
        }
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Replies_to_messages_that_arrived_together_are_flushed_together()
    {
        var connection = new InMemoryConnection();
        var output = new CountingWriter(connection.Transport.Output);
        connection.Replace(connection.Transport.Input, output);
        var run = connection.RunAsync(new EchoHandler(new LineFramer()));

        await connection.Client.Output.WriteAsync("a\nb\nc\n");
        Assert.Equal("a\nb\nc\n", await connection.ReadTextAsync(6));
        await connection.Client.Output.WriteAsync("d\n");
        Assert.Equal("d\n", await connection.ReadTextAsync(2));
        await connection.Client.Output.CompleteAsync();
        await run.WithTestTimeout();

        Assert.Equal([6L, 2L], output.Flushes);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Replies_are_flushed_together_even_from_a_reader_that_cannot_peek()
    {
        // This reader's TryRead always fails: bytes left after a message must still be read without a flush first.
        var connection = new InMemoryConnection();
        var output = new CountingWriter(connection.Transport.Output);
        connection.Replace(new ScriptedPipeReader(["a\nb\nc\n"u8.ToArray()]), output);

        await connection.RunAsync(new EchoHandler(new LineFramer())).WithTestTimeout();

        Assert.Equal([6L], output.Flushes);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_frame_cut_short_still_gets_the_replies_to_the_whole_messages()
    {
        var connection = InMemory.WithInput(new ScriptedPipeReader(["whole\npart"u8.ToArray()]));

        await connection.RunAsync(new EchoHandler(new LineFramer())).WithTestTimeout();

        Assert.Equal("whole\n", await connection.ReadAllTextAsync());
        Assert.Equal(ConnectionEndReason.ProtocolError, connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_message_over_the_maximum_ends_the_connection_as_too_large()
    {
        var connection = InMemory.WithInput(ScriptedPipeReader.ByteByByte(Encoding.UTF8.GetBytes(new string('x', 40) + "\n")), maxMessageSize: 32);

        await connection.RunAsync(new EchoHandler(new LineFramer())).WithTestTimeout();

        Assert.Equal(ConnectionEndReason.MessageTooLarge, connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task With_a_framer_an_idle_connection_closes_when_the_server_asks()
    {
        var connection = new InMemoryConnection();
        var run = connection.RunAsync(new EchoHandler(new LineFramer()));
        await connection.Client.Output.WriteAsync("one\n");
        Assert.Equal("one\n", await connection.ReadTextAsync(4));

        connection.RequestClose();

        await run.WithTestTimeout();
    }
}
