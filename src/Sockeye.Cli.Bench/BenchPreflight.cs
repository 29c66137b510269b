using System.Net;
using System.Net.Sockets;
using Sockeye.Cli.Bench.Native;
using Sockeye.Transport.Linux;

namespace Sockeye.Cli.Bench;

/// <summary>Checks before a run, each failing with one line a user can act on.</summary>
internal static class BenchPreflight
{
    // Descriptors the process needs besides the connections: standard streams, epoll, the runtime's own.
    private const int SpareDescriptors = 64;

    private static readonly TimeSpan s_probeTimeout = TimeSpan.FromSeconds(5);

    // How long the echo probe waits for its bytes back. An echo server answers in microseconds; one that waits for a
    // delimiter or the end of the stream never does.
    private static readonly TimeSpan s_echoProbeTimeout = TimeSpan.FromSeconds(3);

    public static void RequireLinux()
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new BenchException("sockeye bench runs on Linux only: its load generator drives epoll directly.");
        }
    }

    /// <summary>Raises the open-file limit as far as the hard limit allows, and fails if that is not enough.</summary>
    public static unsafe void EnsureFileLimit(int connections)
    {
        var needed = (ulong)connections + SpareDescriptors;
        var limits = stackalloc ulong[2];
        if (LinuxNative.getrlimit(LinuxNative.RLimitNoFile, limits) != 0 || limits[0] >= needed)
        {
            return;
        }

        if (limits[1] >= needed)
        {
            limits[0] = needed;
            if (LinuxNative.setrlimit(LinuxNative.RLimitNoFile, limits) == 0)
            {
                return;
            }
        }

        throw new BenchException(
            $"{connections:N0} connections need {needed:N0} open files, but this process may open {limits[1]:N0} (see ulimit -n).");
    }

    /// <summary>Resolves the target, preferring IPv4 as <c>sockeye serve</c> listens on 127.0.0.1 first.</summary>
    public static async Task<IPEndPoint> ResolveAsync(string host, int port, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(host.AsSpan().Trim("[]"), out var literal))
        {
            return new IPEndPoint(literal, port);
        }

        IPAddress[] addresses;
        try
        {
            addresses = await Dns.GetHostAddressesAsync(host, cancellationToken);
        }
        catch (SocketException)
        {
            throw new BenchException($"Cannot resolve host '{host}'.");
        }

        var address = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
            ?? addresses.FirstOrDefault()
            ?? throw new BenchException($"Cannot resolve host '{host}'.");
        return new IPEndPoint(address, port);
    }

    /// <summary>Connects once and closes, so a server that is not there is one clear line, not thousands of errors.</summary>
    public static async Task ProbeAsync(IPEndPoint endPoint, CancellationToken cancellationToken)
    {
        using var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(s_probeTimeout);
        try
        {
            await socket.ConnectAsync(endPoint, timeout.Token);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionRefused)
        {
            throw new BenchException($"Connection refused by {endPoint}; is the server running?");
        }
        catch (SocketException ex)
        {
            throw new BenchException($"Cannot connect to {endPoint}: {ex.Message}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new BenchException($"Timed out connecting to {endPoint} after {s_probeTimeout.TotalSeconds:0} s.");
        }
    }

    /// <summary>
    /// Sends a few bytes on one connection and waits for them to come back, so a workload that needs an echo server,
    /// run against one that is not (eof-echo waits for its delimiter, print for the end of the stream), is one clear
    /// line rather than an error per connection.
    /// </summary>
    public static async Task ProbeEchoAsync(IPEndPoint endPoint, string workload, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        var wait = timeout ?? s_echoProbeTimeout;
        var probe = "sockeye bench probe\n"u8.ToArray();
        using var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(wait);
        string? failure;
        try
        {
            await socket.ConnectAsync(endPoint, deadline.Token);
            await socket.SendAsync(probe, SocketFlags.None, deadline.Token);
            var echoed = new byte[probe.Length];
            var received = 0;
            while (received < echoed.Length)
            {
                var count = await socket.ReceiveAsync(echoed.AsMemory(received), SocketFlags.None, deadline.Token);
                if (count == 0)
                {
                    break;
                }

                received += count;
            }

            failure = received < echoed.Length ? "closed the connection without echoing"
                : echoed.AsSpan().SequenceEqual(probe) ? null
                : "sent back something else";
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            failure = $"did not echo within {wait.TotalSeconds:0.#} s";
        }
        catch (SocketException ex)
        {
            failure = $"failed the probe exchange ({ex.SocketErrorCode})";
        }

        if (failure is not null)
        {
            throw new BenchException(
                $"bench {workload} needs a server that echoes every byte and keeps the connection open, such as 'sockeye serve --handler echo'; {endPoint} {failure}.");
        }
    }

    /// <summary>The socket address the event loops connect to.</summary>
    public static NativeEndPoint ToNative(IPEndPoint endPoint) =>
        endPoint.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6
            ? new NativeEndPoint(endPoint)
            : throw new BenchException($"{endPoint} is not an IP endpoint.");
}
