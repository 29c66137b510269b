using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using System.Text;
using Sockeye.Framing;
using Sockeye.Tests.Infrastructure;
using Sockeye.Transport;

namespace Sockeye.Tests.Framing;

public class MessageReaderTests
{
    private static readonly LineFramer s_lines = new();

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_message_is_a_slice_of_the_receive_buffer_not_a_copy()
    {
        var data = "one\ntwo\n"u8.ToArray();
        await using var reader = new MessageReader<ReadOnlySequence<byte>>(new ScriptedPipeReader([data]), s_lines, 1024);

        Assert.True(await reader.MoveNextAsync());
        Assert.True(MemoryMarshal.TryGetArray(reader.Current.First, out var first));
        Assert.True(await reader.MoveNextAsync());
        Assert.True(MemoryMarshal.TryGetArray(reader.Current.First, out var second));

        Assert.Same(data, first.Array);
        Assert.Equal((0, 3), (first.Offset, first.Count));
        Assert.Same(data, second.Array);
        Assert.Equal((4, 3), (second.Offset, second.Count));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_batch_that_arrived_in_one_read_is_read_with_one_read_and_one_advance_of_the_pipe()
    {
        // A pipelined batch: each message after the first is parsed from the buffer the first came in, with no read
        // and no advance of the pipe per message (and, when it is there already, no state machine).
        var batch = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(1, 100).Select(i => $"m{i}\n")) + "m10");
        var input = new ScriptedPipeReader([batch, "1\n"u8.ToArray()]);
        await using var reader = new MessageReader<ReadOnlySequence<byte>>(input, s_lines, 1024);
        var messages = new List<string>();

        for (var i = 0; i < 100; i++)
        {
            Assert.True(await reader.MoveNextAsync());
            messages.Add(Encoding.ASCII.GetString(reader.Current.ToArray()));
        }

        Assert.Equal((1, 0), (input.Reads, input.Advances));

        // The partial message after the batch is read once the next read completes it.
        Assert.True(await reader.MoveNextAsync());
        messages.Add(Encoding.ASCII.GetString(reader.Current.ToArray()));
        Assert.Equal((2, 1), (input.Reads, input.Advances));
        Assert.Equal([.. Enumerable.Range(1, 101).Select(i => $"m{i}")], messages);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Messages_read_ahead_are_released_to_the_pipe_once_they_add_up_to_the_release_size()
    {
        // 2,000 lines of 10 bytes in one read: the ones before the release size are released together, so the input
        // sees them consumed (a paused input resumes) while the rest are still being read.
        const int Count = 2_000;
        var batch = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, Count).Select(i => $"line {i,4}\n")));
        var input = new ScriptedPipeReader([batch, "last\n"u8.ToArray()]);
        await using var reader = new MessageReader<ReadOnlySequence<byte>>(input, s_lines, 1024);

        for (var i = 0; i < Count; i++)
        {
            Assert.True(await reader.MoveNextAsync());
            Assert.Equal($"line {i,4}", Encoding.ASCII.GetString(reader.Current.ToArray()));
            if (i == (MessageReader<ReadOnlySequence<byte>>.ReadAheadRelease / 10) - 1)
            {
                Assert.Equal((1, 0), (input.Reads, input.Advances));
            }
        }

        Assert.Equal((2, 1), (input.Reads, input.Advances));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Hooks_mark_where_each_message_starts_and_ends()
    {
        // Nothing buffered at first; "one" starts in the second read; "tw" is buffered when "one" completes.
        var connection = new RecordingConnection(new ScriptedPipeReader([[], "on"u8.ToArray(), "e\ntw"u8.ToArray(), "o\n"u8.ToArray()]));
        var events = new List<string>();
        var seen = 0;

        await foreach (var message in connection.ReadMessagesAsync(s_lines, TestContext.Current.CancellationToken))
        {
            events.AddRange(connection.Events.Skip(seen));
            seen = connection.Events.Count;
            events.Add(Encoding.UTF8.GetString(message.ToArray()));
        }

        Assert.Equal(["started", "received", "one", "started", "received", "two"], events);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Each_message_written_is_counted_and_left_unflushed()
    {
        var connection = new RecordingConnection(new ScriptedPipeReader([]));

        connection.WriteMessage(s_lines, "one"u8);
        connection.WriteMessage(s_lines, Segments.Of("t", "wo"));

        Assert.Equal(["sent", "sent"], connection.Events);
        Assert.Equal(8, connection.Output.UnflushedBytes);
        await connection.WriteMessageAsync(s_lines, "three"u8.ToArray(), TestContext.Current.CancellationToken);
        Assert.Equal(0, connection.Output.UnflushedBytes);
        var written = await connection.Sent.Reader.ReadAsync(TestContext.Current.CancellationToken);
        Assert.Equal("one\ntwo\nthree\n", Encoding.UTF8.GetString(written.Buffer.ToArray()));
    }

    [Theory(Timeout = Timeouts.Load)]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_long_line_is_searched_once_however_it_arrives(bool realPipe)
    {
        // Linear, not quadratic: summed over every read, the bytes the framer is given to search (from where its last
        // search stopped to the end) add up to the line's length. A search from the start each time would be about
        // length² / (2 × chunk): 4 GiB here for the real pipe.
        const int Chunk = 4096;
        var length = realPipe ? 8 * 1024 * 1024 : 256 * 1024;
        var framer = new CountingFramer(s_lines);
        PipeReader input = realPipe ? FillInStep(length, Chunk, framer) : new ScriptedPipeReader([.. Chunks(length, Chunk)]);
        await using var reader = new MessageReader<ReadOnlySequence<byte>>(input, framer, maxMessageSize: 16 * 1024 * 1024);

        Assert.True(await reader.MoveNextAsync());

        Assert.Equal(length - 1, reader.Current.Length);
        Assert.Equal(length, framer.Searchable);
        Assert.Equal(length / Chunk, framer.Calls);
    }

    [Fact(Timeout = Timeouts.Load)]
    public async Task A_long_message_with_a_long_delimiter_is_searched_about_once()
    {
        // Only the few bytes that may begin a delimiter are searched again: delimiter length - 1 per read.
        var framer = new CountingFramer(new DelimiterFramer());
        var input = new ScriptedPipeReader([.. Chunks(256 * 1024, 1024, "<EOF>")]);
        await using var reader = new MessageReader<ReadOnlySequence<byte>>(input, framer, maxMessageSize: 1024 * 1024);

        Assert.True(await reader.MoveNextAsync());

        Assert.Equal(256 * 1024 - 5, reader.Current.Length);
        Assert.InRange(framer.Searchable, 256 * 1024, (256 * 1024) + (4 * framer.Calls));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_framer_allowed_more_than_the_connection_buffers_is_stopped_at_the_receive_limit()
    {
        // The pipe stops taking bytes at the connection's maximum plus 4 KiB: waiting on for a newline would stall.
        var input = new ScriptedPipeReader([.. Enumerable.Range(0, 8).Select(_ => new byte[1024])]);
        var connection = InMemory.WithInput(input, maxMessageSize: 1024);
        var framer = new LineFramer { MaxMessageSize = 10 * 1024 };

        var error = await Assert.ThrowsAsync<ProtocolException>(async () =>
        {
            await foreach (var _ in connection.ReadMessagesAsync(framer, TestContext.Current.CancellationToken))
            {
            }
        });

        Assert.Equal(ConnectionEndReason.MessageTooLarge, error.EndReason);
        Assert.Equal(ConnectionEndReason.MessageTooLarge, connection.EndReason);
        Assert.Equal(5, input.Reads);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_message_too_large_aborts_the_connection()
    {
        var connection = new RecordingConnection(new ScriptedPipeReader(["ok\n"u8.ToArray(), new byte[100]]), maxMessageSize: 64);
        var messages = new List<string>();

        await Assert.ThrowsAsync<ProtocolException>(async () =>
        {
            await foreach (var message in connection.ReadMessagesAsync(s_lines, TestContext.Current.CancellationToken))
            {
                messages.Add(Encoding.UTF8.GetString(message.ToArray()));
            }
        });

        Assert.Equal(["ok"], messages);
        Assert.Equal(ConnectionEndReason.MessageTooLarge, connection.EndReason);
        Assert.Equal("aborted", connection.Events[^1]);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_frame_cut_short_ends_the_connection_as_a_protocol_error_without_aborting_it()
    {
        // The client only ended its side: the handler may still send the replies it owes.
        var connection = new RecordingConnection(new ScriptedPipeReader(["ok\npartial"u8.ToArray()]));

        var error = await Assert.ThrowsAsync<ProtocolException>(async () =>
        {
            await foreach (var _ in connection.ReadMessagesAsync(s_lines, TestContext.Current.CancellationToken))
            {
            }
        });

        Assert.Equal(ConnectionEndReason.ProtocolError, error.EndReason);
        Assert.Equal(ConnectionEndReason.ProtocolError, connection.EndReason);
        Assert.DoesNotContain("aborted", connection.Events);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task An_idle_connection_stops_when_the_server_asks_it_to_close()
    {
        var connection = new InMemoryConnection();
        var messages = Collect(connection);
        await connection.Client.Output.WriteAsync("one\n");
        Assert.Equal("one", await messages.Next());

        connection.RequestClose();

        await messages.Run.WithTestTimeout();
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_message_under_way_when_the_server_asks_to_close_is_finished_and_is_the_last()
    {
        var pipe = new Pipe();
        var connection = new RecordingConnection(pipe.Reader);
        var messages = Collect(connection);
        await pipe.Writer.WriteAsync("hel");
        await connection.WaitForAsync("started");

        connection.RequestClose();
        await pipe.Writer.WriteAsync("lo\nnext\n");

        Assert.Equal("hello", await messages.Next());
        await messages.Run.WithTestTimeout();

        // The handler ends between messages: "next", which came behind it, is not read, so that a client that keeps its
        // input full cannot hold the stop until the shutdown timeout resets it.
        Assert.False(messages.Next().IsCompleted);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_new_connections_first_message_is_read_though_the_close_was_asked_before_it()
    {
        // The server's stop asks a new connection to close once its first bytes reached the handler (a load balancer
        // sends them right behind the connect): that message is served, the next is not.
        var connection = new InMemoryConnection();
        await connection.Client.Output.WriteAsync("first\nsecond\n");
        connection.RequestClose();

        var messages = Collect(connection);

        Assert.Equal("first", await messages.Next());
        await messages.Run.WithTestTimeout();
        Assert.False(messages.Next().IsCompleted);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Canceling_the_wait_throws()
    {
        var connection = new InMemoryConnection();
        using var cancel = new CancellationTokenSource();
        var reading = Task.Run(async () =>
        {
            await foreach (var _ in connection.ReadMessagesAsync(s_lines, cancel.Token))
            {
            }
        }, TestContext.Current.CancellationToken);

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reading.WithTestTimeout());
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task An_abort_while_waiting_throws_rather_than_looking_like_a_clean_end()
    {
        var connection = new InMemoryConnection();
        var messages = Collect(connection);
        await connection.Client.Output.WriteAsync("one\n");
        Assert.Equal("one", await messages.Next());

        connection.Abort();

        await Assert.ThrowsAsync<ConnectionAbortedException>(() => messages.Run.WithTestTimeout());
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Leaving_the_loop_leaves_what_follows_in_the_input()
    {
        var connection = InMemory.WithInput(new ScriptedPipeReader(["header\nrest of the stream"u8.ToArray()]));
        var messages = connection.ReadMessagesAsync(s_lines, TestContext.Current.CancellationToken);

        await foreach (var header in messages)
        {
            Assert.Equal("header", Encoding.UTF8.GetString(header.ToArray()));
            break;
        }

        var rest = await connection.Transport.Input.ReadAsync(TestContext.Current.CancellationToken);
        Assert.Equal("rest of the stream", Encoding.UTF8.GetString(rest.Buffer.ToArray()));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Any_pipe_can_be_read_as_messages()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync("a\nb\n"u8.ToArray(), TestContext.Current.CancellationToken);
        await pipe.Writer.CompleteAsync();
        var messages = new List<string>();

        await foreach (var message in pipe.Reader.ReadMessagesAsync(s_lines, TestContext.Current.CancellationToken))
        {
            messages.Add(Encoding.UTF8.GetString(message.ToArray()));
        }

        Assert.Equal(["a", "b"], messages);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_framer_that_finds_a_message_without_consuming_a_byte_is_refused_rather_than_spinning()
    {
        await using var reader = new MessageReader<ReadOnlySequence<byte>>(new ScriptedPipeReader(["x"u8.ToArray()]), new StuckFramer(), 1024);

        await Assert.ThrowsAsync<InvalidOperationException>(async () => await reader.MoveNextAsync());
    }

    /// <summary>Reads the connection's lines on another task, handing each over as it arrives.</summary>
    private static (Func<Task<string>> Next, Task Run) Collect(Connection connection)
    {
        var received = System.Threading.Channels.Channel.CreateUnbounded<string>();
        var run = Task.Run(async () =>
        {
            await foreach (var message in connection.ReadMessagesAsync(s_lines, TestContext.Current.CancellationToken))
            {
                received.Writer.TryWrite(Encoding.UTF8.GetString(message.ToArray()));
            }
        });
        return (() => received.Reader.ReadAsync(TestContext.Current.CancellationToken).AsTask(), run);
    }

    private static IEnumerable<byte[]> Chunks(int length, int chunk, string end = "\n")
    {
        var data = new byte[length];
        Array.Fill(data, (byte)'x');
        Encoding.UTF8.GetBytes(end).CopyTo(data, length - end.Length);
        return data.Chunk(chunk);
    }

    /// <summary>A pipe that receives the data a chunk at a time, each only once the framer has searched the last.</summary>
    private static PipeReader FillInStep(int length, int chunk, CountingFramer framer)
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        _ = Task.Run(async () =>
        {
            foreach (var part in Chunks(length, chunk))
            {
                await pipe.Writer.WriteAsync(part);
                await framer.Called.WaitAsync(TestContext.Current.CancellationToken);
            }

            await pipe.Writer.CompleteAsync();
        });
        return pipe.Reader;
    }

    /// <summary>A broken framer: it reports an empty message and leaves the input where it was.</summary>
    private sealed class StuckFramer : MessageFramer
    {
        public override bool TryParseMessage(in ReadOnlySequence<byte> input, long maxMessageSize, ref SequencePosition consumed, ref SequencePosition examined, out ReadOnlySequence<byte> message)
        {
            message = ReadOnlySequence<byte>.Empty;
            return true;
        }

        public override void WriteMessage(ReadOnlySpan<byte> message, IBufferWriter<byte> output)
        {
        }
    }

    /// <summary>Passes every call to another framer, adding up how many bytes it was given to search.</summary>
    private sealed class CountingFramer(MessageFramer inner) : MessageFramer
    {
        public long Searchable { get; private set; }

        public int Calls { get; private set; }

        public SemaphoreSlim Called { get; } = new(0);

        public override bool TryParseMessage(in ReadOnlySequence<byte> input, long maxMessageSize, ref SequencePosition consumed, ref SequencePosition examined, out ReadOnlySequence<byte> message)
        {
            Calls++;
            Searchable += input.Slice(examined).Length;
            var found = inner.TryParseMessage(input, maxMessageSize, ref consumed, ref examined, out message);
            Called.Release();
            return found;
        }

        public override void WriteMessage(ReadOnlySpan<byte> message, IBufferWriter<byte> output) => inner.WriteMessage(message, output);
    }
}
