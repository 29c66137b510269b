using System.Buffers;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Sockeye.Tests.Framing;
using Sockeye.Transport;
using Sockeye.Transport.Linux;

namespace Sockeye.Tests.Transport;

public class ConnectionOutputTests
{
    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_flush_sends_at_once_on_the_calling_thread_and_keeps_no_block()
    {
        var (output, socket, pool) = Create();

        await output.WriteAsync("hello"u8.ToArray(), TestContext.Current.CancellationToken);

        Assert.Equal("hello"u8.ToArray(), socket.Received.ToArray());
        Assert.Equal(0, pool.RentedBlocks);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Several_writes_flushed_once_leave_in_one_send()
    {
        var (output, socket, _) = Create();

        for (var i = 0; i < 10; i++)
        {
            output.Write("0123456789"u8);
        }

        await output.FlushAsync(TestContext.Current.CancellationToken);

        Assert.Equal(1, socket.Sends);
        Assert.Equal(100, socket.Received.Count);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task What_a_full_socket_cannot_take_is_sent_when_it_becomes_writable()
    {
        var (output, socket, _) = Create();
        socket.Capacity = 3;

        var flush = output.WriteAsync("abcdef"u8.ToArray(), TestContext.Current.CancellationToken);

        Assert.True(flush.IsCompletedSuccessfully);
        Assert.Equal("abc"u8.ToArray(), socket.Received.ToArray());
        Assert.True(socket.Blocked);
        socket.Capacity = int.MaxValue;
        output.OnWritable();
        Assert.Equal("abcdef"u8.ToArray(), socket.Received.ToArray());
        Assert.False(socket.Blocked);
        await flush;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_flush_waits_above_the_pause_threshold_and_goes_on_below_half_of_it()
    {
        var (output, socket, _) = Create(pauseThreshold: 8192);
        socket.Capacity = 0;

        var flush = output.WriteAsync(new byte[10_000], TestContext.Current.CancellationToken);
        Assert.False(flush.IsCompleted);

        socket.Capacity = 4000;
        output.OnWritable();
        Assert.False(flush.IsCompleted);
        socket.Capacity = 2000;
        output.OnWritable();

        var result = await flush.AsTask().WaitAsync(TestContext.Current.CancellationToken);
        Assert.False(result.IsCompleted);
        Assert.Equal(6000, socket.Received.Count);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Writes_after_the_connection_is_gone_report_completion_and_waiting_flushes_end()
    {
        var (output, socket, pool) = Create(pauseThreshold: 1024);
        socket.Capacity = 0;
        var waiting = output.WriteAsync(new byte[4096], TestContext.Current.CancellationToken);

        output.TransportGone();

        Assert.True((await waiting).IsCompleted);
        Assert.True((await output.WriteAsync("more"u8.ToArray(), TestContext.Current.CancellationToken)).IsCompleted);
        await output.DrainAsync();
        Assert.Equal(0, pool.RentedBlocks);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_send_error_ends_the_output()
    {
        var (output, socket, _) = Create();
        socket.Error = SocketError.ConnectionReset;

        var result = await output.WriteAsync("x"u8.ToArray(), TestContext.Current.CancellationToken);

        Assert.True(result.IsCompleted);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Completing_flushes_what_was_written_and_drain_waits_until_it_is_all_sent()
    {
        var (output, socket, pool) = Create();
        socket.Capacity = 2;
        output.Write("unflushed"u8);

        output.Complete();
        var drained = output.DrainAsync();
        Assert.False(drained.IsCompleted);
        socket.Capacity = int.MaxValue;
        output.OnWritable();
        await drained.WaitAsync(TestContext.Current.CancellationToken);

        Assert.Equal("unflushed"u8.ToArray(), socket.Received.ToArray());
        Assert.Equal(0, pool.RentedBlocks);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Large_and_many_writes_arrive_intact_through_a_socket_that_takes_a_little_at_a_time()
    {
        var random = new Random(20261125);
        var (output, socket, pool) = Create(pauseThreshold: long.MaxValue);
        var data = new byte[300_000];
        random.NextBytes(data);

        for (var offset = 0; offset < data.Length;)
        {
            var size = Math.Min(random.Next(1, 20_000), data.Length - offset);
            var memory = output.GetMemory(size);
            data.AsSpan(offset, size).CopyTo(memory.Span);
            output.Advance(size);
            offset += size;
            socket.Capacity = random.Next(0, 10_000);
            await output.FlushAsync(TestContext.Current.CancellationToken);
            output.OnWritable();
        }

        await SendTheRestAndCheckAsync(output, socket, pool, data);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_write_and_flush_with_nothing_waiting_sends_the_callers_bytes_without_a_copy()
    {
        var (output, socket, pool) = Create();
        var data = "echoed back"u8.ToArray();

        var result = await output.WriteAndFlushAsync(new ReadOnlySequence<byte>(data));

        Assert.False(result.IsCompleted);
        Assert.Same(data, socket.LastSentArray);
        Assert.Equal(data, socket.Received.ToArray());
        Assert.Equal(0, pool.RentedBlocks);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_write_and_flush_copies_what_the_socket_did_not_take_before_it_returns()
    {
        var random = new Random(20261206);
        var (output, socket, pool) = Create(pauseThreshold: long.MaxValue);
        var data = new byte[200_000];
        random.NextBytes(data);
        for (var offset = 0; offset < data.Length;)
        {
            // One segment or several, as the input's blocks hand them out.
            var parts = new byte[random.Next(1, 5)][];
            for (var i = 0; i < parts.Length; i++)
            {
                parts[i] = data.AsSpan(offset, Math.Min(random.Next(1, 5000), data.Length - offset)).ToArray();
                offset += parts[i].Length;
            }

            // Sometimes the socket takes all of it, sometimes part, sometimes none (full).
            socket.Capacity = random.Next(3) switch { 0 => int.MaxValue, 1 => random.Next(1, 10_000), _ => 0 };
            await output.WriteAndFlushAsync(Segments.Of(parts));

            // The caller reuses its memory at once, as the input does with its blocks.
            foreach (var part in parts)
            {
                random.NextBytes(part);
            }

            if (random.Next(2) == 0)
            {
                socket.Capacity = random.Next(0, 30_000);
                output.OnWritable();
            }
        }

        await SendTheRestAndCheckAsync(output, socket, pool, data);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_write_and_flush_after_the_writers_own_unflushed_bytes_sends_them_first()
    {
        var (output, socket, _) = Create();
        output.Write("first "u8);

        await output.WriteAndFlushAsync(new ReadOnlySequence<byte>("second"u8.ToArray()));

        Assert.Equal("first second"u8.ToArray(), socket.Received.ToArray());
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_write_and_flush_after_a_send_error_reports_completion()
    {
        var (output, socket, pool) = Create();
        socket.Error = SocketError.ConnectionReset;

        var result = await output.WriteAndFlushAsync(new ReadOnlySequence<byte>("x"u8.ToArray()));

        Assert.True(result.IsCompleted);
        Assert.True((await output.WriteAndFlushAsync(new ReadOnlySequence<byte>("y"u8.ToArray()))).IsCompleted);
        Assert.Equal(0, pool.RentedBlocks);
    }

    /// <summary>Lets the socket take everything, ends the output, and checks that exactly the data arrived, in order.</summary>
    private static async Task SendTheRestAndCheckAsync(ConnectionOutput output, FakeSocket socket, PinnedBlockMemoryPool pool, byte[] data)
    {
        socket.Capacity = int.MaxValue;
        output.OnWritable();
        output.Complete();
        await output.DrainAsync();

        Assert.Equal(data, socket.Received.ToArray());
        Assert.Equal(0, pool.RentedBlocks);
    }

    private static (ConnectionOutput Output, FakeSocket Socket, PinnedBlockMemoryPool Pool) Create(long pauseThreshold = 64 * 1024)
    {
        var pool = new PinnedBlockMemoryPool();
        var socket = new FakeSocket();
        return (new ConnectionOutput(new PipeSettings(pool, pauseThreshold, inlineContinuations: true), socket), socket, pool);
    }

    /// <summary>A socket that takes at most <see cref="Capacity"/> bytes before it reports being full.</summary>
    private sealed class FakeSocket : IOutputTransport
    {
        public List<byte> Received { get; } = [];

        public int Capacity { get; set; } = int.MaxValue;

        public SocketError Error { get; set; }

        public int Sends { get; private set; }

        public bool Blocked { get; private set; }

        /// <summary>The array under the first bytes of the last send that took any.</summary>
        public byte[]? LastSentArray { get; private set; }

        public SendResult Send(in ReadOnlySequence<byte> data)
        {
            if (Error != SocketError.Success)
            {
                return new SendResult(0, false, Error);
            }

            if (Capacity == 0)
            {
                return SendResult.Blocked;
            }

            LastSentArray = MemoryMarshal.TryGetArray(data.First, out var segment) ? segment.Array : null;
            var take = (int)Math.Min(Capacity, data.Length);
            Received.AddRange(data.Slice(0, take).ToArray());
            Capacity -= take;
            Sends++;
            return new SendResult(take, false, SocketError.Success);
        }

        public void SendBlocked(bool blocked) => Blocked = blocked;
    }
}
