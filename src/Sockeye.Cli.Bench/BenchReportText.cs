using System.Globalization;
using System.Text;

namespace Sockeye.Cli.Bench;

/// <summary>The report as a few aligned lines for people.</summary>
internal static class BenchReportText
{
    public static string Format(BenchReport report)
    {
        var text = new StringBuilder();
        text.AppendLine(Invariant($"{report.Workload} against {report.Target}: {Describe(report)}"));
        text.AppendLine(Invariant($"  window      {report.MeasuredSeconds:0.0} s measured after {report.WarmupSeconds:0.#} s of warm-up, {report.Threads} generator thread(s)"));
        if (report.Workload == "idle")
        {
            text.AppendLine(Invariant($"  open        {report.Connected:N0} connections, opened at {report.ConnectionsPerSecond ?? 0:N0} conn/s"));
        }
        else
        {
            var rate = report.ConnectionsPerSecond is { } connections
                ? Invariant($"{connections:N0} conn/s")
                : Invariant($"{report.MessagesPerSecond:N0} msgs/s   {report.MebibytesPerSecond:N2} MiB/s");
            text.AppendLine(Invariant($"  throughput  {rate}   ({report.Messages:N0} in the window)"));
        }

        if (report.Latency is { } latency)
        {
            text.AppendLine(
                $"  latency     p50 {Time(latency.P50)}   p90 {Time(latency.P90)}   p99 {Time(latency.P99)}   p99.9 {Time(latency.P999)}   max {Time(latency.Max)}");
        }

        if (report.Broadcast is { } broadcast)
        {
            var ended = broadcast.NonReadersLastEndedSeconds is { } last && broadcast.NonReadersFirstEndedSeconds is { } first
                ? Invariant($" ({first:0.0} to {last:0.0} s after publishing began)")
                : "";
            text.AppendLine(Invariant(
                $"  delivered   {broadcast.MessagesPerSecondPerReader:N0} msgs/s to each reading subscriber; {broadcast.NonReadersEnded:N0} of {broadcast.NonReaders:N0} never-reading ended by the server{ended}; {broadcast.LateJoins:N0} late joins"));
            if (broadcast.DrainSeconds is { } drain)
            {
                text.AppendLine(Invariant($"  drained     in {drain:0.00} s after the publishers stopped"));
            }
        }

        text.AppendLine(Invariant($"  errors      {report.Errors:N0}"));
        foreach (var sample in report.ErrorSamples)
        {
            text.AppendLine($"              {sample}");
        }

        var generator = report.Generator;
        text.Append(Invariant($"  generator   {generator.CpuPercent:0}% of a core"));
        if (generator.CpuMicrosecondsPerMessage is { } cost)
        {
            text.Append(Invariant($", {cost:0.00} µs CPU ({generator.UserCpuMicrosecondsPerMessage ?? 0:0.00} µs in user mode) and {generator.AllocatedBytesPerMessage ?? 0:0.00} B allocated per message"));
        }

        text.AppendLine();
        if (report.Server is { } server)
        {
            text.Append(Invariant($"  server      pid {server.Pid}: {server.CpuPercent:0}% of a core"));
            if (server.CpuMicrosecondsPerMessage is { } serverCost)
            {
                text.Append(Invariant($", {serverCost:0.00} µs CPU per message ({server.UserCpuMicrosecondsPerMessage ?? 0:0.00} µs in user mode)"));
            }

            text.Append(Invariant($"; {Bytes(server.RssBytes)} resident, {server.Threads} threads"));
            if (server.RssPeakBytes is { } peak)
            {
                text.Append(Invariant($"; at most {Bytes(peak)} while measuring (from {Bytes(server.RssBeforeBytes ?? 0)} before the run)"));
            }

            if (server.RssPerConnectionBytes is { } perConnection)
            {
                text.Append(Invariant($"; {perConnection:N0} B per connection (from {Bytes(server.RssBeforeBytes ?? 0)})"));
            }

            text.AppendLine();
        }

        return text.ToString();
    }

    private static string Describe(BenchReport report) => report.Workload switch
    {
        "echo" => Invariant($"{report.Connections:N0} connections × {report.Depth} in flight, {report.Size:N0} B messages"),
        "broadcast" when report.Broadcast is { } b => Invariant(
            $"{b.Publishers:N0} publisher(s) to {b.Subscribers:N0} subscribers ({b.NonReaders:N0} never reading), {report.Size:N0} B messages, window {b.Window}"),
        "oneshot" => report.HalfClose == true
            ? Invariant($"{report.Connections:N0} at a time, {report.Size:N0} B then half-close")
            : Invariant($"{report.Connections:N0} at a time, {report.Size:N0} B plus the delimiter, echoed"),
        _ => Invariant($"{report.Connections:N0} connections, {report.Size:N0} B exchanged once each"),
    };

    private static string Time(double microseconds) => microseconds switch
    {
        < 1000 => Invariant($"{microseconds:0} µs"),
        < 1_000_000 => Invariant($"{microseconds / 1000:0.00} ms"),
        _ => Invariant($"{microseconds / 1_000_000:0.00} s"),
    };

    private static string Bytes(long bytes) => Invariant($"{bytes / (1024.0 * 1024):0.0} MiB");

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
