using Sockeye.Tests.Infrastructure;
using Sockeye.Transport;
using Sockeye.Transport.Linux;

namespace Sockeye.Tests.Transport;

/// <summary>How the epoll transport sets up the sockets it accepts.</summary>
public class AcceptedSocketTests
{
    [Fact(Timeout = Timeouts.Network)]
    public async Task An_accepted_socket_sends_without_waiting_to_coalesce()
    {
        Assert.SkipUnless(LinuxTransport.IsSupported, "The epoll transport is Linux's.");
        var noDelay = new TaskCompletionSource<int?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(connection =>
        {
            // Set once on the listening socket, which Linux copies to each socket it accepts.
            noDelay.TrySetResult((connection as LinuxConnection)?.ReadSocketOption(LinuxNative.IpProtoTcp, LinuxNative.TcpNoDelay));
            return Task.CompletedTask;
        },
        options => options.Transport = TransportKind.Linux);

        using var client = await server.ConnectAsync();

        Assert.Equal(1, await noDelay.Task.WaitAsync(TestContext.Current.CancellationToken));
    }
}
