using System.Buffers;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Sockeye.Framing;
using Sockeye.Hosting;
using Sockeye.Samples.Resp;

namespace Sockeye.Tests.Fuzzing;

/// <summary>
/// What AFL++ found (docs/fuzzing.md), each as the user meets it. The inputs are in fuzz/corpus too, where
/// <see cref="FuzzTargetTests"/> runs them through their target's promises.
/// </summary>
public class FuzzFindingTests
{
    [Fact(Timeout = Timeouts.Fast)]
    public Task A_socket_path_longer_than_the_kernel_takes_is_one_line_that_says_so()
    {
        // Was: UnixDomainSocketEndPoint's ArgumentOutOfRangeException, with its stack, out of the host's start.
        var url = "unix:/" + new string('a', 200);

        var error = Assert.Throws<OptionsValidationException>(() => Bind(url));

        Assert.Equal([$"Sockeye:Endpoints:Main: '{url}' has a socket path too long for this system: keep it under 108 bytes."], error.Failures);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task A_socket_path_with_a_nul_is_refused_rather_than_read_as_another_socket()
    {
        // Was: accepted; a leading NUL named an abstract socket, printed back by --print-config as "unix:@..." and
        // read back from there as a file named "@...": the configuration it wrote was not the one it ran.
        var error = Assert.Throws<OptionsValidationException>(() => Bind("unix:\0\0\0d/app.soc:"));

        var failure = Assert.Single(error.Failures);
        Assert.Contains("has a control character in its socket path", failure, StringComparison.Ordinal);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task A_bulk_length_near_the_largest_number_is_too_large_rather_than_a_crash()
    {
        // Was: the length added to the bytes before it overflowed to a negative number, passed the maximum's check,
        // and SequenceReader.Advance threw ArgumentOutOfRangeException out of the RESP reader, not a protocol error.
        var input = new ReadOnlySequence<byte>("*1\r\n$9223372036854775807\r\n"u8.ToArray());
        var consumed = input.Start;
        var examined = input.Start;

        var error = Assert.Throws<ProtocolException>(() => new RespCommandReader().TryParseMessage(input, 1024, ref consumed, ref examined, out _));

        Assert.Equal(ConnectionEndReason.MessageTooLarge, error.EndReason);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task A_size_past_decimals_range_is_refused_rather_than_a_crash()
    {
        // Was: the suffix's factor multiplied a decimal past its range, and OverflowException ended the tool with a stack.
        Assert.False(Sockeye.Cli.ByteSize.TryParse("55555555555555555555555555.5G", out _));
        Assert.False(Sockeye.Cli.ByteSize.TryParse("79228162514264337593543950335K", out _));
        Assert.False(Sockeye.Cli.ByteSize.TryParse("8EiB", out _));
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("+5")]
    [InlineData("5")]
    [InlineData("0")]
    [InlineData("Wait, Disconnect")]
    public Task An_enum_setting_takes_one_of_its_names_and_nothing_else(string text)
    {
        // Was: "+5" slipped past the binder's digit check into Enum.TryParse, which took it as the number 5; --print-config
        // printed it as "5", which the binder then refused, so the configuration it wrote was not one it could read.
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Sockeye:OutboundQueuePolicy"] = text }).Build();

        var error = Assert.Throws<OptionsValidationException>(() => SockeyeConfiguration.Bind(configuration.GetSection(SockeyeConfiguration.SectionName), new SocketServerOptions()));

        Assert.Contains("Sockeye:OutboundQueuePolicy", Assert.Single(error.Failures), StringComparison.Ordinal);
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("22255552.222255555", 222555522222556L)]
    [InlineData("0.00000005", 1L)]
    [InlineData("2.5", 25000000L)]
    [InlineData("30", 300000000L)]
    public Task A_duration_in_seconds_is_read_to_the_nearest_tick_and_printed_so_that_it_reads_back_the_same(string text, long ticks)
    {
        // Was: seconds were read as a double, and 22255552.222255555 became a duration that Format printed as
        // '22255552.2222555', which read back one tick shorter: a configuration --print-config wrote that was not the one read.
        var options = BindShutdownTimeout(text);
        Assert.Equal(ticks, options.ShutdownTimeout.Ticks);

        var printed = Assert.IsType<string>(SettingsBinder.Format(options.ShutdownTimeout));
        Assert.Equal(options.ShutdownTimeout, BindShutdownTimeout(printed).ShutdownTimeout);
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("1e30")]
    [InlineData("NaN")]
    [InlineData("922337203686")]
    public Task A_duration_past_the_longest_time_span_is_refused(string text)
    {
        var error = Assert.Throws<OptionsValidationException>(() => BindShutdownTimeout(text));
        Assert.Contains("Sockeye:ShutdownTimeout", Assert.Single(error.Failures), StringComparison.Ordinal);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task An_enum_setting_still_takes_its_names_in_any_case()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Sockeye:OutboundQueuePolicy"] = " dropNEWEST " }).Build();
        var options = new SocketServerOptions();

        SockeyeConfiguration.Bind(configuration.GetSection(SockeyeConfiguration.SectionName), options);

        Assert.Equal(OutboundQueuePolicy.DropNewest, options.OutboundQueuePolicy);
        return Task.CompletedTask;
    }

    private static SocketServerOptions BindShutdownTimeout(string text)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Sockeye:ShutdownTimeout"] = text }).Build();
        var options = new SocketServerOptions();
        SockeyeConfiguration.Bind(configuration.GetSection(SockeyeConfiguration.SectionName), options);
        return options;
    }

    private static SocketServerOptions Bind(string url)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Sockeye:Endpoints:Main:Url"] = url }).Build();
        var options = new SocketServerOptions();
        SockeyeConfiguration.Bind(configuration.GetSection(SockeyeConfiguration.SectionName), options);
        return options;
    }
}
