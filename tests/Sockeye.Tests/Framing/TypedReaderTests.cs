using System.Buffers;
using System.Text;
using Sockeye.Framing;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Framing;

/// <summary>Readers and writers of typed messages, run by the same loop as the framers, with the same limits.</summary>
public class TypedReaderTests
{
    private static readonly ReadingReader s_reader = new();
    private static readonly ReadingWriter s_writer = new();

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Typed_messages_arrive_whole_however_the_bytes_are_split()
    {
        var data = "temp 21\nhumidity 40\r\nwind -3\n"u8.ToArray();
        var connection = new RecordingConnection(ScriptedPipeReader.ByteByByte(data));
        var readings = new List<Reading>();

        await foreach (var reading in connection.ReadMessagesAsync(s_reader, TestContext.Current.CancellationToken))
        {
            readings.Add(reading);
        }

        Assert.Equal([new("temp", 21), new("humidity", 40), new("wind", -3)], readings);
        Assert.Equal(3, connection.Events.Count(e => e == "received"));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_typed_writer_queues_each_message_and_the_async_form_flushes()
    {
        var connection = new RecordingConnection(new ScriptedPipeReader([]));

        connection.WriteMessage(s_writer, new Reading("a", 1));
        connection.WriteMessage(s_writer, new Reading("b", -22));

        Assert.Equal(["sent", "sent"], connection.Events);
        Assert.Equal("a 1\nb -22\n".Length, connection.Output.UnflushedBytes);
        await connection.WriteMessageAsync(s_writer, new Reading("c", 3), TestContext.Current.CancellationToken);
        Assert.Equal(0, connection.Output.UnflushedBytes);
        var written = await connection.Sent.Reader.ReadAsync(TestContext.Current.CancellationToken);
        Assert.Equal("a 1\nb -22\nc 3\n", Encoding.ASCII.GetString(written.Buffer.ToArray()));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task What_a_writer_writes_its_reader_reads_back()
    {
        var output = new ArrayBufferWriter<byte>();
        Reading[] sent = [new("x", int.MinValue), new("y", 0), new("z", int.MaxValue)];
        foreach (var reading in sent)
        {
            s_writer.WriteMessage(reading, output);
        }

        var received = new List<Reading>();
        await foreach (var reading in new ScriptedPipeReader([output.WrittenSpan.ToArray()]).ReadMessagesAsync(s_reader, TestContext.Current.CancellationToken))
        {
            received.Add(reading);
        }

        Assert.Equal(sent, received);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_malformed_message_ends_the_connection_as_a_protocol_error_after_the_good_ones()
    {
        var connection = new RecordingConnection(new ScriptedPipeReader(["ok 1\nnot-a-reading\nok 2\n"u8.ToArray()]));
        var readings = new List<Reading>();

        var error = await Assert.ThrowsAsync<ProtocolException>(async () =>
        {
            await foreach (var reading in connection.ReadMessagesAsync(s_reader, TestContext.Current.CancellationToken))
            {
                readings.Add(reading);
            }
        });

        Assert.Equal([new("ok", 1)], readings);
        Assert.Equal(ConnectionEndReason.ProtocolError, error.EndReason);
        Assert.Equal(ConnectionEndReason.ProtocolError, connection.EndReason);
        Assert.DoesNotContain("aborted", connection.Events);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task The_stream_ending_in_the_middle_of_a_typed_message_is_a_protocol_error()
    {
        var connection = new RecordingConnection(new ScriptedPipeReader(["ok 1\nhalf"u8.ToArray()]));

        var error = await Assert.ThrowsAsync<ProtocolException>(async () =>
        {
            await foreach (var _ in connection.ReadMessagesAsync(s_reader, TestContext.Current.CancellationToken))
            {
            }
        });

        Assert.Equal(ConnectionEndReason.ProtocolError, error.EndReason);
        Assert.Equal(ConnectionEndReason.ProtocolError, connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_typed_reader_keeps_its_own_maximum()
    {
        var reader = new ReadingReader { MaxMessageSize = 8 };
        var connection = new RecordingConnection(new ScriptedPipeReader(["ok 1\n"u8.ToArray(), "much-too-long 1\n"u8.ToArray()]));

        var error = await Assert.ThrowsAsync<ProtocolException>(async () =>
        {
            await foreach (var _ in connection.ReadMessagesAsync(reader, TestContext.Current.CancellationToken))
            {
            }
        });

        Assert.Equal(ConnectionEndReason.MessageTooLarge, error.EndReason);
        Assert.Equal(ConnectionEndReason.MessageTooLarge, connection.EndReason);
        Assert.Contains("aborted", connection.Events);
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_reader_that_never_finds_a_message_is_stopped_at_the_maximum_plus_the_allowance(bool overConnection)
    {
        // 1 KiB maximum + 4 KiB allowance: the sixth 1 KiB read passes it, whoever owns the pipe.
        var input = new ScriptedPipeReader([.. Enumerable.Range(0, 16).Select(_ => new byte[1024])]);
        var messages = overConnection
            ? InMemory.WithInput(input, maxMessageSize: 1024).ReadMessagesAsync(new NeverReader(), TestContext.Current.CancellationToken)
            : input.ReadMessagesAsync(new MaxOf<int>(new NeverReader(), 1024), TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<ProtocolException>(async () =>
        {
            await foreach (var _ in messages)
            {
            }
        });

        Assert.Equal(ConnectionEndReason.MessageTooLarge, error.EndReason);
        Assert.Equal(5, input.Reads);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_typed_message_whose_frame_passes_the_maximum_plus_the_allowance_is_too_large()
    {
        var connection = InMemory.WithInput(new ScriptedPipeReader([new byte[1024 + 4096], new byte[1024 + 4096 + 1]]), maxMessageSize: 1024);
        var sizes = new List<long>();

        var error = await Assert.ThrowsAsync<ProtocolException>(async () =>
        {
            await foreach (var size in connection.ReadMessagesAsync(new GreedyReader(), TestContext.Current.CancellationToken))
            {
                sizes.Add(size);
            }
        });

        Assert.Equal([1024 + 4096], sizes);
        Assert.Equal(ConnectionEndReason.MessageTooLarge, error.EndReason);
        Assert.Equal(ConnectionEndReason.MessageTooLarge, connection.EndReason);
    }

    /// <summary>Another reader with a maximum of its own.</summary>
    private sealed class MaxOf<T>(IMessageReader<T> inner, long max) : IMessageReader<T>
    {
        public long? MaxMessageSize => max;

        public bool TryParseMessage(in ReadOnlySequence<byte> input, long maxMessageSize, ref SequencePosition consumed, ref SequencePosition examined, out T message) =>
            inner.TryParseMessage(input, maxMessageSize, ref consumed, ref examined, out message!);
    }
}
