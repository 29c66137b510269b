using System.Text;
using Sockeye.Cli.Handlers;
using Sockeye.Tests.Infrastructure;
using Sockeye.Transport;

namespace Sockeye.Tests.Cli.Handlers;

public class EofEchoHandlerTests
{
    private const string Companion = "This is a test<EOF>";

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Echoes_the_companion_message_and_reports_it()
    {
        var output = new RecordingOutput();
        var connection = new InMemoryConnection();
        var run = connection.RunAsync(new EofEchoHandler(output));

        await connection.Client.Output.WriteAsync(Companion);
        await run.WithTestTimeout();

        Assert.Equal(Companion, await connection.ReadAllTextAsync());
        Assert.Equal(["Read 19 bytes from socket.", " Data : This is a test<EOF>", "Sent 19 bytes to client."], output.Lines);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Finds_the_delimiter_split_across_reads_at_every_position()
    {
        var data = Encoding.UTF8.GetBytes("payload<EOF>");
        for (var position = 1; position < data.Length; position++)
        {
            var output = new RecordingOutput();
            var connection = InMemory.WithInput(ScriptedPipeReader.SplitAt(data, position));

            await connection.RunAsync(new EofEchoHandler(output)).WithTestTimeout();

            Assert.Equal("payload<EOF>", await connection.ReadAllTextAsync());
            Assert.Equal("Sent 12 bytes to client.", output.Lines[^1]);
        }
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Finds_the_delimiter_delivered_one_byte_at_a_time()
    {
        var output = new RecordingOutput();
        var input = ScriptedPipeReader.ByteByByte("byte by byte<EOF>trailing"u8);
        var connection = InMemory.WithInput(input);

        await connection.RunAsync(new EofEchoHandler(output)).WithTestTimeout();

        Assert.Equal("byte by byte<EOF>", await connection.ReadAllTextAsync());
        Assert.Equal(17, input.Reads);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_client_that_ends_before_the_delimiter_is_reported_and_closed()
    {
        var output = new RecordingOutput();
        var connection = new InMemoryConnection();
        var run = connection.RunAsync(new EofEchoHandler(output));

        await connection.Client.Output.WriteAsync("no marker");
        await connection.Client.Output.CompleteAsync();
        await run.WithTestTimeout();

        Assert.Equal(string.Empty, await connection.ReadAllTextAsync());
        Assert.Equal(["Read 9 bytes from socket.", " Data : no marker"], output.Lines);

        // The client closed: that is not a protocol error, as the end line would say over a socket.
        Assert.Equal(ConnectionEndReason.ServerClosed, connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Uses_a_configured_delimiter()
    {
        var output = new RecordingOutput();
        var connection = InMemory.WithInput(ScriptedPipeReader.ByteByByte("line one\nline two\n"u8));

        await connection.RunAsync(new EofEchoHandler(output, "\n")).WithTestTimeout();

        Assert.Equal("line one\n", await connection.ReadAllTextAsync());
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_message_of_exactly_the_maximum_size_is_echoed()
    {
        var message = new string('a', 32) + "<EOF>";
        var connection = InMemory.WithInput(ScriptedPipeReader.SplitAt(Encoding.UTF8.GetBytes(message), 20), maxMessageSize: 32);

        await connection.RunAsync(new EofEchoHandler(new RecordingOutput())).WithTestTimeout();

        Assert.Equal(message, await connection.ReadAllTextAsync());
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData(true)]
    [InlineData(false)]
    public async Task One_byte_over_the_maximum_ends_the_connection_as_too_large_and_reports_what_arrived(bool delimiterArrives)
    {
        var message = new string('a', 33) + (delimiterArrives ? "<EOF>" : "bbbbbbbbbb");
        var connection = InMemory.WithInput(ScriptedPipeReader.ByteByByte(Encoding.UTF8.GetBytes(message)), maxMessageSize: 32);
        var output = new RecordingOutput();

        await connection.RunAsync(new EofEchoHandler(output)).WithTestTimeout();

        Assert.Equal(ConnectionEndReason.MessageTooLarge, connection.EndReason);
        // What the framer had looked at when it saw the message could not fit: past the maximum, with room for a delimiter.
        var reported = Assert.Single(output.Lines, line => line.StartsWith(" Data : ", StringComparison.Ordinal))[" Data : ".Length..];
        Assert.InRange(reported.Length, 33, 32 + "<EOF>".Length);
        Assert.StartsWith(reported, message, StringComparison.Ordinal);
        Assert.Equal($"Read {reported.Length} bytes from socket.", output.Lines[0]);
        Assert.Equal(string.Empty, await connection.ReadAllTextBeforeResetAsync());
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_reset_before_the_delimiter_reports_what_arrived_and_echoes_nothing()
    {
        var output = new RecordingOutput();
        var connection = new InMemoryConnection();
        var watched = WatchedInput.Watch(connection);
        var run = connection.RunAsync(new EofEchoHandler(output));

        await connection.Client.Output.WriteAsync("half a ");
        await connection.Client.Output.WriteAsync("message<EO");
        await watched.ExaminedAsync(17);
        connection.Reset();
        await run.WithTestTimeout();

        Assert.Equal(["Read 17 bytes from socket.", " Data : half a message<EO"], output.Lines);
        Assert.Equal(ConnectionEndReason.ConnectionReset, connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_stop_that_times_out_before_the_delimiter_reports_what_arrived()
    {
        var output = new RecordingOutput();
        var connection = new InMemoryConnection();
        var watched = WatchedInput.Watch(connection);
        var run = connection.RunAsync(new EofEchoHandler(output));

        await connection.Client.Output.WriteAsync("unfinished");
        await watched.ExaminedAsync(10);
        connection.RequestClose();
        connection.Abort(ConnectionEndReason.ServerShutdown);
        await run.WithTestTimeout();

        Assert.Equal(["Read 10 bytes from socket.", " Data : unfinished"], output.Lines);
        Assert.Equal(ConnectionEndReason.ServerShutdown, connection.EndReason);
        Assert.Equal(string.Empty, await connection.ReadAllTextBeforeResetAsync());
    }
}
