using System.Globalization;

namespace Sockeye.Cli.Bench;

/// <summary>
/// The server under test, seen through Linux's <c>/proc/PID</c>: its CPU time, resident memory and threads. Read the
/// same way for every server, so numbers compare.
/// </summary>
internal sealed class ServerProcess(int pid)
{
    // /proc reports CPU time in USER_HZ ticks, which the Linux ABI fixes at 100 a second.
    private const double TicksPerSecond = 100;

    public int Pid { get; } = pid;

    /// <summary>Reads the process's state now; throws a <see cref="BenchException"/> once it is gone.</summary>
    public ServerSample Sample()
    {
        string stat, status;
        try
        {
            stat = File.ReadAllText($"/proc/{Pid}/stat");
            status = File.ReadAllText($"/proc/{Pid}/status");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new BenchException($"Cannot read /proc/{Pid}: is process {Pid} (--server-pid) running?");
        }

        // The command name (field 2) may hold spaces and parentheses; the fields after its last ')' are fixed.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var user = long.Parse(fields[11], CultureInfo.InvariantCulture);
        var system = long.Parse(fields[12], CultureInfo.InvariantCulture);
        return new ServerSample(
            (user + system) / TicksPerSecond, user / TicksPerSecond, StatusValue(status, "VmRSS:") * 1024, (int)StatusValue(status, "Threads:"));
    }

    private static long StatusValue(string status, string key)
    {
        foreach (var line in status.AsSpan().EnumerateLines())
        {
            if (line.StartsWith(key, StringComparison.Ordinal))
            {
                var value = line[key.Length..].Trim();
                var space = value.IndexOf(' ');
                return long.Parse(space < 0 ? value : value[..space], CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }
}

/// <summary>A server's CPU time so far (all, and in user mode: its own code rather than the kernel's), its resident memory, and its thread count.</summary>
internal readonly record struct ServerSample(double CpuSeconds, double UserCpuSeconds, long RssBytes, int Threads);
