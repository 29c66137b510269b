using System.Net;
using Sockeye.Protocols;
using Sockeye.Tests.Protocols;

namespace Sockeye.Tests.Robustness;

/// <summary>
/// Every duration option is at most what a .NET timer waits (2^32 - 2 ms, about 49.7 days), checked with the options:
/// a longer one passed the checks and threw where it was used, at SIGTERM (DrainDelay) or in every connection
/// (a TLS handshake or PROXY header timeout).
/// </summary>
public sealed class DurationLimitTests
{
    private static readonly TimeSpan s_tooLong = TimerLimit.Max + TimeSpan.FromMilliseconds(1);

    public static TheoryData<string> ServerDurations =>
    [
        nameof(SocketServerOptions.ShutdownTimeout),
        nameof(SocketServerOptions.DrainDelay),
        nameof(SocketServerOptions.LingerTimeout),
        nameof(SocketServerOptions.SlowReaderGrace),
        nameof(SocketServerOptions.IdleTimeout),
        nameof(SocketServerOptions.WriteTimeout),
        nameof(SocketServerOptions.MinDataRateGracePeriod),
    ];

    [Theory(Timeout = Timeouts.Fast)]
    [MemberData(nameof(ServerDurations))]
    public Task A_server_duration_longer_than_a_timer_waits_is_refused_and_the_longest_is_taken(string name)
    {
        var property = typeof(SocketServerOptions).GetProperty(name)!;
        var options = new SocketServerOptions();
        options.Listen(IPAddress.Loopback, 0);

        property.SetValue(options, s_tooLong);
        var error = Assert.Throws<ArgumentOutOfRangeException>(options.Validate);
        Assert.Equal(name, error.ParamName);
        Assert.Contains("at most 4294967 seconds", error.Message, StringComparison.Ordinal);

        property.SetValue(options, TimerLimit.Max);
        options.Validate();
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task The_TLS_handshake_and_PROXY_header_timeouts_are_limited_too()
    {
        var tls = new TlsOptions(TestCertificates.Server) { HandshakeTimeout = s_tooLong };
        Assert.Equal(nameof(TlsOptions.HandshakeTimeout), Assert.Throws<ArgumentOutOfRangeException>(tls.Validate).ParamName);
        tls.HandshakeTimeout = TimerLimit.Max;
        tls.Validate();

        var proxy = new ProxyProtocolOptions { HeaderTimeout = s_tooLong };
        proxy.TrustedProxies.Add(IPNetwork.Parse("10.0.0.0/8"));
        Assert.Equal(nameof(ProxyProtocolOptions.HeaderTimeout), Assert.Throws<ArgumentOutOfRangeException>(proxy.Validate).ParamName);
        proxy.HeaderTimeout = TimerLimit.Max;
        proxy.Validate();
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData(nameof(SocketClientOptions.ConnectTimeout))]
    [InlineData(nameof(ReconnectOptions.MaxDelay))]
    public async Task A_client_duration_longer_than_a_timer_waits_is_refused_before_connecting(string name)
    {
        var options = name == nameof(ReconnectOptions.MaxDelay)
            ? new SocketClientOptions { Reconnect = new ReconnectOptions { MaxDelay = s_tooLong } }
            : new SocketClientOptions { ConnectTimeout = s_tooLong };

        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(
            () => SocketClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, 1), options, TestContext.Current.CancellationToken));

        Assert.Equal(name, error.ParamName);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task The_limit_is_what_the_runtimes_timers_take()
    {
        using var cancel = new CancellationTokenSource();
        using var longest = new CancellationTokenSource(TimerLimit.Max);
        _ = Task.Delay(TimerLimit.Max, cancel.Token);
        Assert.Throws<ArgumentOutOfRangeException>(() => new CancellationTokenSource(s_tooLong));
        cancel.Cancel();
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task An_infinite_minimum_data_rate_grace_is_refused()
    {
        // The heartbeat read -1 ms as no grace at all, the opposite of what Infinite says; MinDataRate 0 turns the check off.
        var options = new SocketServerOptions { MinDataRateGracePeriod = Timeout.InfiniteTimeSpan };
        options.Listen(IPAddress.Loopback, 0);

        Assert.Equal(nameof(SocketServerOptions.MinDataRateGracePeriod), Assert.Throws<ArgumentOutOfRangeException>(options.Validate).ParamName);
        return Task.CompletedTask;
    }
}
