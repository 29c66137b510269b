using System.Buffers;
using Sockeye.Handlers;
using Sockeye.Tests.Infrastructure;
using Sockeye.Transport;

namespace Sockeye.Tests.Handlers;

public class EchoHandlerTests
{
    [Fact(Timeout = Timeouts.Fast)]
    public async Task Sends_every_chunk_back_as_it_arrives()
    {
        var connection = new InMemoryConnection();
        var run = connection.RunAsync(new EchoHandler());

        await connection.Client.Output.WriteAsync("first");
        var first = await connection.Client.Input.ReadAtLeastAsync(5, TestContext.Current.CancellationToken);
        Assert.Equal("first"u8.ToArray(), first.Buffer.ToArray());
        connection.Client.Input.AdvanceTo(first.Buffer.End);

        await connection.Client.Output.WriteAsync("second");
        await connection.Client.Output.CompleteAsync();
        await run.WithTestTimeout();

        Assert.Equal("second", await connection.ReadAllTextAsync());
    }
}
