using System.Diagnostics.Metrics;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Sockeye.Framing;
using Sockeye.Handlers;
using Sockeye.Tests.Infrastructure;
using Sockeye.Transport;
using Sockeye.Transport.Linux;

namespace Sockeye.Tests.Handlers;

/// <summary>Framed messages over real sockets on loopback: limits, memory, and how replies leave.</summary>
public class FramedEchoOverSocketTests
{
    private const int MiB = 1024 * 1024;

    [Fact(Timeout = Timeouts.Load)]
    public async Task A_100_MiB_line_ends_that_connection_as_too_large_with_memory_bounded_while_others_are_served()
    {
        // The bound below is the epoll transport's own input (ConnectionInput), so this runs on it on either CI pass.
        // On the portable transport (System.IO.Pipelines' Pipe) the same flood peaks higher, still ended as too large.
        Assert.SkipUnless(LinuxTransport.IsSupported, "The bound is the epoll transport's, which is Linux's.");
        await using var server = await TestServer.StartAsync(new EchoHandler(new LineFramer()), options => options.Transport = TransportKind.Linux);
        var pool = server.Server.Context.MemoryPool;
        using var bystander = await server.ConnectAsync();
        using var flooder = await server.ConnectAsync();
        var chunk = Encoding.ASCII.GetBytes(new string('x', 64 * 1024));

        // The server may hold one maximum message (1 MiB), the framing allowance (4 KiB) and one read (4 KiB). A receive
        // needs half a block of room, so a block whose receive came up short is left up to half empty: at worst twice
        // as many blocks as the bytes fill, and a partly filled last one. Without the limit the line would take 25,600
        // blocks, or stall the connection with no end logged.
        var bound = (2 * (MiB + (8 * 1024)) / PinnedBlockMemoryPool.BlockSize) + 2;
        long sent = 0;
        long peak = 0;
        try
        {
            while (sent < 100 * MiB)
            {
                await flooder.SendAsync(chunk);
                sent += chunk.Length;
                peak = Math.Max(peak, pool.RentedBlocks);
            }
        }
        catch (SocketException)
        {
            // The server aborted the connection: that is the point.
        }

        var ended = await server.Logs.WaitForAsync(record => record.EventId.Id == 11 && record.Message.Contains("MessageTooLarge", StringComparison.Ordinal));
        Assert.Equal(LogLevel.Information, ended.Level);
        Assert.True(sent < 100 * MiB, "the whole line was accepted");
        Assert.InRange(peak, 0, bound);

        await bystander.SendAsync("still served\n");
        Assert.Equal("still served\n"u8.ToArray(), await bystander.ReceiveExactlyAsync(13));
        Assert.InRange(pool.RentedBlocks, 0, 4);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Messages_written_together_go_out_in_one_send()
    {
        var framer = new LineFramer();
        await using var server = await TestServer.StartAsync(async connection =>
        {
            connection.WriteMessage(framer, "one"u8);
            connection.WriteMessage(framer, "two"u8);
            connection.WriteMessage(framer, "three"u8);
            await connection.Transport.Output.FlushAsync();
        });
        using var sends = Collect<long>(server, "sockeye.io");
        using var client = await server.ConnectAsync();

        Assert.Equal("one\ntwo\nthree\n", await client.ReceiveTextToEndAsync());
        await server.DisposeAsync();

        var transmitted = sends.GetMeasurementSnapshot().Where(m => m.Tags["network.io.direction"] is "transmit");
        Assert.Equal([14L], transmitted.Select(m => m.Value));
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Echo_answers_messages_that_arrive_together_in_one_send_and_counts_them()
    {
        await using var server = await TestServer.StartAsync(new EchoHandler(new LineFramer()));
        using var io = Collect<long>(server, "sockeye.io");
        using var messages = Collect<long>(server, "sockeye.messages");
        using var client = await server.ConnectAsync();

        await client.SendAsync("a\nb\nc\n");
        Assert.Equal("a\nb\nc\n"u8.ToArray(), await client.ReceiveExactlyAsync(6));
        client.HalfClose();
        await client.ReceiveToEndAsync();
        await server.DisposeAsync();

        Assert.Equal([6L], io.GetMeasurementSnapshot().Where(m => m.Tags["network.io.direction"] is "transmit").Select(m => m.Value));
        Assert.Equal(3, messages.GetMeasurementSnapshot().Where(m => m.Tags["network.io.direction"] is "receive").Sum(m => m.Value));
        Assert.Equal(3, messages.GetMeasurementSnapshot().Where(m => m.Tags["network.io.direction"] is "transmit").Sum(m => m.Value));
    }

    private static MetricCollector<T> Collect<T>(TestServer server, string name)
        where T : struct
    {
        // The meter is the server's own; listen to that instance only, so parallel tests do not mix in.
        Instrument? found = null;
        using (var listener = new MeterListener())
        {
            listener.InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Name == name && ReferenceEquals(instrument.Meter, server.Server.Context.Metrics.Meter))
                {
                    found = instrument;
                }
            };
            listener.Start();
        }

        return new MetricCollector<T>((Instrument<T>)(found ?? throw new InvalidOperationException($"No instrument {name}.")));
    }
}
