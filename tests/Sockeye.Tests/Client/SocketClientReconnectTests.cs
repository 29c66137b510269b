using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;
using Sockeye.Framing;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Client;

/// <summary>
/// The opt-in reconnect: through a server's restart on the same port, with backoff on the client's clock, up to a
/// number of attempts, and disposable at any point.
/// </summary>
public class SocketClientReconnectTests
{
    private static readonly LineFramer Lines = new();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact(Timeout = Timeouts.Network)]
    public async Task The_client_reconnects_through_a_server_restart_on_the_same_port_and_its_stream_goes_on()
    {
        var first = await StartGreeterAsync("first", port: 0);
        var port = first.EndPoint.Port;
        var reconnects = Channel.CreateUnbounded<ReconnectEventArgs>();
        var options = new SocketClientOptions
        {
            Framer = Lines,
            Reconnect = new ReconnectOptions { InitialDelay = TimeSpan.FromMilliseconds(10), MaxDelay = TimeSpan.FromMilliseconds(100), MaxAttempts = 100 },
        };
        await using var client = await SocketClient.ConnectAsync(first.EndPoint, options, Token);
        client.Reconnected += (_, args) => reconnects.Writer.TryWrite(args);
        await using var messages = client.ReadMessagesAsync(Lines, Token).GetAsyncEnumerator(Token);

        Assert.Equal("welcome from first", await NextAsync(messages));
        await client.SendAsync("ping"u8.ToArray(), Token);
        Assert.Equal("first: ping", await NextAsync(messages));

        // A rolling restart: the server stops (its connections end cleanly), and a new one comes up on the same port.
        await first.DisposeAsync();
        var next = NextAsync(messages);
        await using var second = await StartGreeterAsync("second", port);

        Assert.Equal("welcome from second", await next);
        var reconnected = await reconnects.Reader.ReadAsync(Token);
        // The attempt that succeeded names why it was made: the server's clean close when it was the first, or the
        // refusal of the attempt before (the client may try before the second server listens).
        if (reconnected.Attempt == 1)
        {
            Assert.IsType<IOException>(reconnected.Exception);
        }
        else
        {
            Assert.Equal(SocketError.ConnectionRefused, Assert.IsType<SocketException>(reconnected.Exception).SocketErrorCode);
        }

        await client.SendAsync("ping"u8.ToArray(), Token);
        Assert.Equal("second: ping", await NextAsync(messages));
        Assert.Equal(port, ((IPEndPoint)client.RemoteEndPoint!).Port);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Backoff_doubles_on_the_clients_clock_and_running_out_of_attempts_is_a_clear_error()
    {
        var clock = new FakeTimeProvider();
        var server = await StartGreeterAsync("only", port: 0);
        var attempts = Channel.CreateUnbounded<ReconnectEventArgs>();
        var options = new SocketClientOptions
        {
            Framer = Lines,
            TimeProvider = clock,
            Reconnect = new ReconnectOptions { InitialDelay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromSeconds(3), MaxAttempts = 3, Jitter = 0 },
        };
        await using var client = await SocketClient.ConnectAsync(server.EndPoint, options, Token);
        client.Reconnecting += (_, args) => attempts.Writer.TryWrite(args);
        Assert.Equal("welcome from only", Encoding.UTF8.GetString((await client.ReceiveAsync(Token))!));

        await server.DisposeAsync();
        var receive = client.ReceiveAsync(Token).AsTask();

        // Each attempt waits its delay on the client's clock, and not a tick less: nothing is refused before the clock moves.
        var seen = new List<(int Attempt, TimeSpan Delay, Type Reason)>();
        for (var i = 0; i < 3; i++)
        {
            var attempt = await attempts.Reader.ReadAsync(Token);
            seen.Add((attempt.Attempt, attempt.Delay, attempt.Exception.GetType()));
            clock.Advance(attempt.Delay - TimeSpan.FromTicks(1));
            Assert.False(attempts.Reader.TryPeek(out _));
            Assert.False(receive.IsCompleted);
            clock.Advance(TimeSpan.FromTicks(1));
        }

        var error = await Assert.ThrowsAsync<IOException>(() => receive.WithTestTimeout());
        Assert.Equal(
            [(1, TimeSpan.FromSeconds(1), typeof(IOException)), (2, TimeSpan.FromSeconds(2), typeof(SocketException)), (3, TimeSpan.FromSeconds(3), typeof(SocketException))],
            seen);
        Assert.Contains("gave up reconnecting after 3 attempt(s)", error.Message, StringComparison.Ordinal);
        Assert.Equal(SocketError.ConnectionRefused, Assert.IsType<SocketException>(error.InnerException).SocketErrorCode);

        // Sends, and the next receive, report the same: the client is done.
        var sendError = await Assert.ThrowsAsync<IOException>(async () => await client.SendAsync("late"u8.ToArray(), Token));
        Assert.Contains("gave up reconnecting", sendError.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<IOException>(async () => await client.ReceiveAsync(Token));
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_send_made_while_the_client_reconnects_waits_and_goes_out_on_the_new_connection()
    {
        var clock = new FakeTimeProvider();
        var first = await StartGreeterAsync("first", port: 0);
        var port = first.EndPoint.Port;
        var attempts = Channel.CreateUnbounded<ReconnectEventArgs>();
        var options = new SocketClientOptions
        {
            Framer = Lines,
            TimeProvider = clock,
            Reconnect = new ReconnectOptions { InitialDelay = TimeSpan.FromSeconds(1), Jitter = 0 },
        };
        await using var client = await SocketClient.ConnectAsync(first.EndPoint, options, Token);
        client.Reconnecting += (_, args) => attempts.Writer.TryWrite(args);
        Assert.Equal("welcome from first", Encoding.UTF8.GetString((await client.ReceiveAsync(Token))!));

        await first.DisposeAsync();
        var receive = client.ReceiveAsync(Token).AsTask();
        var attempt = await attempts.Reader.ReadAsync(Token);
        var send = client.SendAsync("hello again"u8.ToArray(), Token).AsTask();
        await using var second = await StartGreeterAsync("second", port);
        Assert.False(send.IsCompleted);

        clock.Advance(attempt.Delay);

        await send.WithTestTimeout();
        Assert.Equal("welcome from second", Encoding.UTF8.GetString((await receive.WithTestTimeout())!));
        Assert.Equal("second: hello again", Encoding.UTF8.GetString((await client.ReceiveAsync(Token))!));
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Disposing_during_a_reconnect_stops_it_closes_the_socket_it_was_opening_and_ends_waiting_calls()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Looks for the connecting socket in /proc/net/tcp.");
        var server = await StartGreeterAsync("first", port: 0);
        var port = server.EndPoint.Port;
        var attempts = Channel.CreateUnbounded<ReconnectEventArgs>();
        var options = new SocketClientOptions
        {
            Framer = Lines,
            ConnectTimeout = Timeout.InfiniteTimeSpan,
            Reconnect = new ReconnectOptions { InitialDelay = TimeSpan.Zero },
        };
        var client = await SocketClient.ConnectAsync(server.EndPoint, options, Token);
        client.Reconnecting += (_, args) => attempts.Writer.TryWrite(args);
        Assert.Equal("welcome from first", Encoding.UTF8.GetString((await client.ReceiveAsync(Token))!));
        var oldSocket = client.Socket;

        // Where the server was, a listener whose queue is full: the reconnect's connect hangs there.
        await server.DisposeAsync();
        using var full = await UnacceptingListener.StartAsync(port);
        var receive = client.ReceiveAsync(Token).AsTask();
        await attempts.Reader.ReadAsync(Token);
        await UntilAsync(() => ConnectingTo(port) > 0);
        var send = client.SendAsync("never"u8.ToArray(), Token).AsTask();

        await client.DisposeAsync();

        Assert.Equal(0, ConnectingTo(port));
        Assert.True(oldSocket.SafeHandle.IsClosed);
        await Assert.ThrowsAsync<ConnectionAbortedException>(() => receive.WithTestTimeout());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => send.WithTestTimeout());
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task Delays_grow_twofold_up_to_the_maximum_less_the_jitter()
    {
        var options = new ReconnectOptions { InitialDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromSeconds(1), Jitter = 0.5 };

        Assert.Equal(TimeSpan.FromMilliseconds(100), options.DelayBefore(1, sample: 0));
        Assert.Equal(TimeSpan.FromMilliseconds(200), options.DelayBefore(2, sample: 0));
        Assert.Equal(TimeSpan.FromMilliseconds(800), options.DelayBefore(4, sample: 0));
        Assert.Equal(TimeSpan.FromSeconds(1), options.DelayBefore(5, sample: 0));
        Assert.Equal(TimeSpan.FromSeconds(1), options.DelayBefore(int.MaxValue, sample: 0));
        Assert.Equal(TimeSpan.FromMilliseconds(150), options.DelayBefore(2, sample: 0.5));
        Assert.Equal(TimeSpan.FromMilliseconds(500), options.DelayBefore(9, sample: 1));
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData(0, 100, 1000, 0.5, "MaxAttempts")]
    [InlineData(3, -1, 1000, 0.5, "InitialDelay")]
    [InlineData(3, 100, 10, 0.5, "MaxDelay")]
    [InlineData(3, 100, 1000, 1.5, "Jitter")]
    [InlineData(3, 100, 1000, double.NaN, "Jitter")]
    public async Task Options_out_of_range_are_refused_before_connecting(int attempts, int initialMs, int maxMs, double jitter, string name)
    {
        var options = new SocketClientOptions
        {
            Reconnect = new ReconnectOptions { MaxAttempts = attempts, InitialDelay = TimeSpan.FromMilliseconds(initialMs), MaxDelay = TimeSpan.FromMilliseconds(maxMs), Jitter = jitter },
        };

        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => SocketClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, 1), options, Token));

        Assert.Equal(name, error.ParamName);
    }

    /// <summary>A server that greets each client with its name, then answers each line with its name and the line.</summary>
    private static Task<TestServer> StartGreeterAsync(string name, int port) =>
        TestServer.StartAsync(
            async connection =>
            {
                await connection.WriteMessageAsync(Lines, Encoding.UTF8.GetBytes($"welcome from {name}"));
                await foreach (var line in connection.ReadMessagesAsync(Lines))
                {
                    await connection.WriteMessageAsync(Lines, Encoding.UTF8.GetBytes($"{name}: {Encoding.UTF8.GetString(line)}"));
                }
            },
            options =>
            {
                options.Listeners.Clear();
                options.Listen(IPAddress.Loopback, port);
            });

    private static async Task<string> NextAsync(IAsyncEnumerator<System.Buffers.ReadOnlySequence<byte>> messages)
    {
        Assert.True(await messages.MoveNextAsync());
        return Encoding.UTF8.GetString(messages.Current);
    }

    /// <summary>Client sockets of this process's machine in SYN_SENT towards <paramref name="port"/> on loopback.</summary>
    private static int ConnectingTo(int port)
    {
        var remote = "0100007F:" + port.ToString("X4", CultureInfo.InvariantCulture);
        return File.ReadLines("/proc/net/tcp").Skip(1)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Count(fields => fields[2] == remote && fields[3] == "02");
    }

    /// <summary>The kernel gives no signal for a connect that is under way; it is looked for until it shows, within the test's timeout.</summary>
    private static async Task UntilAsync(Func<bool> condition)
    {
        while (!condition())
        {
            await Task.Delay(10, Token);
        }
    }
}
