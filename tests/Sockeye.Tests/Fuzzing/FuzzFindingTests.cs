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

    private static SocketServerOptions Bind(string url)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Sockeye:Endpoints:Main:Url"] = url }).Build();
        var options = new SocketServerOptions();
        SockeyeConfiguration.Bind(configuration.GetSection(SockeyeConfiguration.SectionName), options);
        return options;
    }
}
