using System.Diagnostics.Metrics;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Sockeye.Diagnostics;
using Sockeye.Handlers;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Diagnostics;

public class MetricsTests
{
    [Fact(Timeout = Timeouts.Network)]
    public async Task Connections_and_bytes_are_measured_on_the_sockeye_meter()
    {
        var accepted = new TaskCompletionSource<Connection>();
        var server = await TestServer.StartAsync(async connection =>
        {
            accepted.TrySetResult(connection);
            await new EchoHandler().OnConnectedAsync(connection);
        });
        var meter = server.Server.Context.Metrics;
        using var active = Collect<long>(server, "sockeye.active_connections");
        using var io = Collect<long>(server, "sockeye.io");
        using var ended = Collect<long>(server, "sockeye.ended_connections");
        using var duration = Collect<double>(server, "sockeye.connection.duration");

        using (var client = await server.ConnectAsync())
        {
            await client.SendAsync("12345");
            await client.ReceiveExactlyAsync(5);
            Assert.Equal(1, active.GetMeasurementSnapshot().EvaluateAsCounter());
            client.HalfClose();
            await client.ReceiveToEndAsync();
        }

        var connection = await accepted.Task.WithTestTimeout();
        await connection.WaitClosedAsync();
        await server.DisposeAsync();

        Assert.Equal(0, active.GetMeasurementSnapshot().EvaluateAsCounter());
        Assert.Equal(5, io.GetMeasurementSnapshot().Where(m => m.Tags["network.io.direction"] is "receive").Sum(m => m.Value));
        Assert.Equal(5, io.GetMeasurementSnapshot().Where(m => m.Tags["network.io.direction"] is "transmit").Sum(m => m.Value));
        var end = Assert.Single(ended.GetMeasurementSnapshot());
        Assert.Equal("client_closed", end.Tags["sockeye.connection.end_reason"]);
        Assert.Single(duration.GetMeasurementSnapshot());
        _ = meter;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task End_reasons_become_snake_case_tag_values()
    {
        Assert.Equal("connection_reset", SockeyeMetrics.ToTagValue(ConnectionEndReason.ConnectionReset));
        Assert.Equal("idle_timeout", SockeyeMetrics.ToTagValue(ConnectionEndReason.IdleTimeout));
        return Task.CompletedTask;
    }

    internal static MetricCollector<T> Collect<T>(TestServer server, string name)
        where T : struct
    {
        // The meter is the server's own; listen to that instance only, so parallel tests do not mix in.
        var instrument = FindInstrument(server.Server.Context.Metrics, name);
        return new MetricCollector<T>((Instrument<T>)instrument);
    }

    private static Instrument FindInstrument(SockeyeMetrics metrics, string name)
    {
        Instrument? found = null;
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Name == name && ReferenceEquals(instrument.Meter, metrics.Meter))
                {
                    found = instrument;
                }
            },
        };
        listener.Start();
        return found ?? throw new InvalidOperationException($"No instrument {name}.");
    }
}
