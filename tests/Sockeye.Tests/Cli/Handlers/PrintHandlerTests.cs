using System.Text;
using Sockeye.Framing;
using Sockeye.Cli.Handlers;
using Sockeye.Tests.Infrastructure;
using Sockeye.Transport;

namespace Sockeye.Tests.Cli.Handlers;

public class PrintHandlerTests
{
    [Fact(Timeout = Timeouts.Fast)]
    public async Task Prints_what_arrived_once_the_client_ends_its_side()
    {
        var output = new RecordingOutput();
        var connection = new InMemoryConnection();
        var run = connection.RunAsync(new PrintHandler(output));

        await connection.Client.Output.WriteAsync("hel");
        await connection.Client.Output.WriteAsync("lo");
        await connection.Client.Output.CompleteAsync();
        await run.WithTestTimeout();

        Assert.Equal(["Read 5 bytes from socket.", " Data : hello"], output.Lines);
        Assert.Equal(string.Empty, await connection.ReadAllTextAsync());
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Prints_only_at_the_end_of_a_stream_delivered_byte_by_byte()
    {
        var output = new RecordingOutput();
        var input = ScriptedPipeReader.ByteByByte("one message"u8);
        var connection = InMemory.WithInput(input);

        await connection.RunAsync(new PrintHandler(output)).WithTestTimeout();

        Assert.Equal(["Read 11 bytes from socket.", " Data : one message"], output.Lines);
        Assert.Equal(12, input.Reads);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Prints_nothing_when_the_client_sent_nothing()
    {
        var output = new RecordingOutput();
        var connection = new InMemoryConnection();
        var run = connection.RunAsync(new PrintHandler(output));

        await connection.Client.Output.CompleteAsync();
        await run.WithTestTimeout();

        Assert.Empty(output.Lines);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Counts_bytes_and_decodes_utf8()
    {
        var output = new RecordingOutput();
        var connection = InMemory.WithInput(new ScriptedPipeReader([Encoding.UTF8.GetBytes("héllo, wörld")]));

        await connection.RunAsync(new PrintHandler(output)).WithTestTimeout();

        Assert.Equal(["Read 14 bytes from socket.", " Data : héllo, wörld"], output.Lines);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_message_of_exactly_the_maximum_size_is_printed()
    {
        var output = new RecordingOutput();
        var connection = InMemory.WithInput(ScriptedPipeReader.SplitAt(new byte[64], 10), maxMessageSize: 64);

        await connection.RunAsync(new PrintHandler(output)).WithTestTimeout();

        Assert.Equal("Read 64 bytes from socket.", output.Lines[0]);
        Assert.Equal(ConnectionEndReason.ServerClosed, connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task One_byte_over_the_maximum_ends_the_connection_as_too_large_and_prints_what_arrived()
    {
        var output = new RecordingOutput();
        var connection = InMemory.WithInput(ScriptedPipeReader.SplitAt(new byte[65], 10), maxMessageSize: 64);

        await connection.RunAsync(new PrintHandler(output)).WithTestTimeout();

        Assert.Equal("Read 65 bytes from socket.", Assert.Single(output.Lines, line => line.StartsWith("Read", StringComparison.Ordinal)));
        Assert.Equal(ConnectionEndReason.MessageTooLarge, connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_reset_in_the_middle_of_the_stream_prints_what_arrived()
    {
        var output = new RecordingOutput();
        var connection = new InMemoryConnection();
        var watched = WatchedInput.Watch(connection);
        var run = connection.RunAsync(new PrintHandler(output));

        await connection.Client.Output.WriteAsync("hello, ");
        await connection.Client.Output.WriteAsync("and then");
        await watched.ExaminedAsync(15);
        connection.Reset();
        await run.WithTestTimeout();

        Assert.Equal(["Read 15 bytes from socket.", " Data : hello, and then"], output.Lines);
        Assert.Equal(ConnectionEndReason.ConnectionReset, connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_stop_that_times_out_in_the_middle_of_a_message_prints_what_arrived()
    {
        var output = new RecordingOutput();
        var connection = new InMemoryConnection();
        var watched = WatchedInput.Watch(connection);
        var run = connection.RunAsync(new PrintHandler(output, new LineFramer()));

        await connection.Client.Output.WriteAsync("done\nhalf a li");
        await watched.ExaminedAsync(14);
        connection.RequestClose();
        connection.Abort(ConnectionEndReason.ServerShutdown);
        await run.WithTestTimeout();

        Assert.Equal(["Read 4 bytes from socket.", " Data : done", "Read 9 bytes from socket.", " Data : half a li"], output.Lines);
        Assert.Equal(ConnectionEndReason.ServerShutdown, connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task An_idle_connection_closes_when_the_server_asks()
    {
        var output = new RecordingOutput();
        var connection = new InMemoryConnection();
        var run = connection.RunAsync(new PrintHandler(output));

        connection.RequestClose();
        await run.WithTestTimeout();

        Assert.Empty(output.Lines);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task With_a_framer_prints_each_message_as_it_arrives()
    {
        var output = new RecordingOutput();
        var connection = new InMemoryConnection();
        var run = connection.RunAsync(new PrintHandler(output, new LineFramer()));

        await connection.Client.Output.WriteAsync("first\nsec");
        Assert.Equal(["Read 5 bytes from socket.", " Data : first"], await output.WaitForLinesAsync(2));
        await connection.Client.Output.WriteAsync("ond\r\n");
        Assert.Equal(["Read 6 bytes from socket.", " Data : second"], (await output.WaitForLinesAsync(4)).Skip(2));

        await connection.Client.Output.CompleteAsync();
        await run.WithTestTimeout();
        Assert.Equal(4, output.Lines.Count);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task With_a_framer_a_frame_cut_short_is_printed_and_ends_as_a_protocol_error()
    {
        var output = new RecordingOutput();
        var connection = InMemory.WithInput(new ScriptedPipeReader(["one<EOF>tw"u8.ToArray()]));

        await connection.RunAsync(new PrintHandler(output, new DelimiterFramer())).WithTestTimeout();

        Assert.Equal(["Read 3 bytes from socket.", " Data : one", "Read 2 bytes from socket.", " Data : tw"], output.Lines);
        Assert.Equal(ConnectionEndReason.ProtocolError, connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task With_a_framer_a_frame_over_the_maximum_prints_what_arrived_of_it()
    {
        var output = new RecordingOutput();
        var frame = new string('x', 40);
        var connection = InMemory.WithInput(new ScriptedPipeReader(["ok\n"u8.ToArray(), Encoding.UTF8.GetBytes(frame[..20]), Encoding.UTF8.GetBytes(frame[20..])]));

        await connection.RunAsync(new PrintHandler(output, new LineFramer { MaxMessageSize = 32 })).WithTestTimeout();

        Assert.Equal(["Read 2 bytes from socket.", " Data : ok", "Read 40 bytes from socket.", $" Data : {frame}"], output.Lines);
        Assert.Equal(ConnectionEndReason.MessageTooLarge, connection.EndReason);
    }
}
