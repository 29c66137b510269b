using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Sockeye.Cli;
using Sockeye.Cli.Handlers;
using Sockeye.Tests.Infrastructure;
using Sockeye.Transport;

namespace Sockeye.Tests.Cli.Handlers;

public class QueuedOutputTests
{
    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_lone_record_is_written_at_once_and_those_that_come_while_the_writer_rests_share_one_flush()
    {
        var cancellation = TestContext.Current.CancellationToken;
        var stream = new FlushRecordingStream();
        using var resting = new SemaphoreSlim(0);
        using var wake = new SemaphoreSlim(0);
        var output = new QueuedOutput(stream, new TextFormat(), () =>
        {
            resting.Release();
            wake.Wait(cancellation);
        });
        var connection = new InMemoryConnection();

        await output.MessageSentAsync(connection, 1);
        await resting.WaitAsync(cancellation);
        Assert.Equal(["Sent 1 bytes to client.\n"], stream.Flushes);

        await output.MessageSentAsync(connection, 2);
        await output.MessageSentAsync(connection, 3);
        wake.Release();
        await resting.WaitAsync(cancellation);
        Assert.Equal(["Sent 1 bytes to client.\n", "Sent 2 bytes to client.\nSent 3 bytes to client.\n"], stream.Flushes);

        wake.Release();
        await output.DisposeAsync();
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Once_the_writer_fails_nothing_more_is_written_and_handlers_never_wait_on_the_queue()
    {
        var stream = new FailingStream();
        var output = new QueuedOutput(stream, new TextFormat(), static () => { });
        var connection = new InMemoryConnection();

        // Far more than the queue holds (about 1.7 MiB of lines against 1 MiB): each would wait for room if the output
        // went on queueing records that nobody writes.
        for (var i = 0; i < 60_000; i++)
        {
            await output.MessageSentAsync(connection, i);
        }

        await output.DisposeAsync();

        Assert.Equal(1, stream.Attempts);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task What_a_closed_stream_lost_is_counted_for_the_close_to_report()
    {
        var output = new QueuedOutput(new FailingStream(), new TextFormat(), static () => { });
        var connection = new InMemoryConnection();
        long bytes = 0;
        for (var i = 0; i < 60_000; i++)
        {
            await output.MessageSentAsync(connection, i);
            bytes += $"Sent {i} bytes to client.\n".Length;
        }

        Assert.Equal(new OutputLoss(60_000, bytes, StreamClosed: true), await output.CloseAsync(TestContext.Current.CancellationToken));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_handler_waits_while_the_queue_is_full_and_every_line_is_written_in_order()
    {
        var held = new HeldOutput();

        // The writer rests: records queue up until the queue is full, and the next one waits.
        var (waiting, count) = await held.FillAsync(new InMemoryConnection());
        Assert.True(count > 30_000, $"the queue held only {count} lines");
        Assert.False(waiting.IsCompleted);

        // The writer takes what waits, which makes room.
        held.Release();
        await waiting;
        await held.Output.DisposeAsync();
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"Sent {i} bytes to client."), held.Lines);
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Once_the_server_stops_a_handler_whose_connection_has_ended_waits_no_more_and_its_record_is_kept(bool endedFirst)
    {
        var cancellation = TestContext.Current.CancellationToken;
        var held = new HeldOutput();
        using var draining = new CancellationTokenSource();
        var connection = new InMemoryConnection(serverDraining: draining.Token);
        var closed = new TaskCompletionSource();
        using var _ = connection.ConnectionClosed.Register(closed.SetResult);
        var (waiting, count) = await held.FillAsync(connection);

        // While the server serves, only room ends the wait (a slow reader slows the clients and loses nothing), and once
        // it stops, only room or the end of the connection: a stop that aborts it when its drain timeout passes.
        if (endedFirst)
        {
            connection.Abort();
            await closed.Task.WaitAsync(cancellation);
            Assert.False(waiting.IsCompleted);
            await draining.CancelAsync();
        }
        else
        {
            await draining.CancelAsync();
            Assert.False(waiting.IsCompleted);
            connection.Abort(ConnectionEndReason.ServerShutdown);
        }

        // The queue is still full: the record went past its bound.
        await waiting;

        held.Release();
        Assert.Null(await held.Output.CloseAsync(cancellation));
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"Sent {i} bytes to client."), held.Lines);
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Closing_gives_up_on_a_stream_that_takes_nothing_and_says_what_it_did_not_write(bool forced)
    {
        var time = new FakeTimeProvider();
        var stream = new GatedStream();
        var output = new QueuedOutput(stream, new TextFormat(), static () => { }, time);
        var connection = new InMemoryConnection();
        await output.MessageSentAsync(connection, 1);

        // The writer is in a write that does not return, as on a pipe nobody reads.
        await stream.EnteredAsync();
        await output.MessageSentAsync(connection, 22);
        using var abort = new CancellationTokenSource();
        var closing = output.CloseAsync(abort.Token).AsTask();
        Assert.False(closing.IsCompleted);

        if (forced)
        {
            // A second Ctrl+C: at once.
            await abort.CancelAsync();
        }
        else
        {
            time.Advance(WriteProgress.StallLimit);
        }

        Assert.Equal(new OutputLoss(2, "Sent 1 bytes to client.\nSent 22 bytes to client.\n".Length), await closing);

        // What handlers report from then on is dropped: none waits for room.
        for (var i = 0; i < 60_000; i++)
        {
            await output.MessageSentAsync(connection, i);
        }

        stream.Open();
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Closing_waits_for_a_slow_stream_while_it_takes_bytes()
    {
        var time = new FakeTimeProvider();
        var stream = new GatedStream();
        var output = new QueuedOutput(stream, new TextFormat(), static () => { }, time);
        var message = Encoding.UTF8.GetBytes(new string('x', 150 * 1024));
        await output.MessageReceivedAsync(new InMemoryConnection(), new ReadOnlySequence<byte>(message));
        await stream.EnteredAsync();
        var closing = output.CloseAsync(TestContext.Current.CancellationToken).AsTask();

        // The record is three writes (each is given 64 KiB at most); the stream takes each before the stall limit has
        // passed since it took the one before, though the whole takes longer than the limit.
        for (var write = 0; write < 2; write++)
        {
            time.Advance(WriteProgress.StallLimit * 3 / 4);
            stream.Pass();
            await stream.EnteredAsync();
        }

        time.Advance(WriteProgress.StallLimit * 3 / 4);
        Assert.False(closing.IsCompleted);
        stream.Pass();

        Assert.Null(await closing);
        Assert.Equal($"Read {message.Length} bytes from socket.\n Data : {Encoding.UTF8.GetString(message)}\n", Encoding.UTF8.GetString(stream.ToArray()));
    }

    /// <summary>A stream whose reader went away, as a closed pipe.</summary>
    private sealed class FailingStream : MemoryStream
    {
        private int _attempts;

        public int Attempts => Volatile.Read(ref _attempts);

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            Interlocked.Increment(ref _attempts);
            throw new IOException("Broken pipe");
        }
    }

    /// <summary>
    /// An output whose writer, after its first flush, rests until the test releases it: records queue up meanwhile, as
    /// when the output does not keep up.
    /// </summary>
    private sealed class HeldOutput
    {
        private readonly CancellationToken _cancellation = TestContext.Current.CancellationToken;
        private readonly SemaphoreSlim _resting = new(0);
        private readonly SemaphoreSlim _wake = new(0);
        private bool _held = true;

        public HeldOutput() => Output = new QueuedOutput(Stream, new TextFormat(), Rest);

        public FlushRecordingStream Stream { get; } = new();

        public QueuedOutput Output { get; }

        public IReadOnlyList<string> Lines => string.Concat(Stream.Flushes).Split('\n', StringSplitOptions.RemoveEmptyEntries);

        /// <summary>
        /// Reports record 0, which the writer flushes before it rests, then records 1, 2 and so on until one waits for
        /// room: returns that one's wait, and how many records were reported.
        /// </summary>
        public async Task<(Task Waiting, int Count)> FillAsync(Connection connection)
        {
            await Output.MessageSentAsync(connection, 0);
            await _resting.WaitAsync(_cancellation);
            var count = 1;
            ValueTask waiting;
            while ((waiting = Output.MessageSentAsync(connection, count++)).IsCompleted)
            {
                Assert.True(count < 100_000, "the queue never filled");
            }

            return (waiting.AsTask(), count);
        }

        /// <summary>Lets the writer go on, and never rest again.</summary>
        public void Release()
        {
            Volatile.Write(ref _held, false);
            _wake.Release();
        }

        private void Rest()
        {
            if (Volatile.Read(ref _held))
            {
                _resting.Release();
                _wake.Wait(_cancellation);
            }
        }
    }

    /// <summary>Keeps the text each flush sent on.</summary>
    private sealed class FlushRecordingStream : MemoryStream
    {
        private readonly ConcurrentQueue<string> _flushes = new();
        private int _flushed;

        public IReadOnlyList<string> Flushes => [.. _flushes];

        public override void Flush()
        {
            var bytes = ToArray();
            _flushes.Enqueue(Encoding.UTF8.GetString(bytes.AsSpan(_flushed)));
            _flushed = bytes.Length;
        }
    }
}
