using System.Text;
using Sockeye.Framing;
using Sockeye.Messaging;
using Sockeye.Samples.Resp;
using Sockeye.Testing;

namespace Sockeye.Tests.Samples;

/// <summary>The README's typed protocol end to end (its "Typed messages" section), as written there.</summary>
public class ReadmeTypedProtocolTests
{
    [Fact(Timeout = Timeouts.Fast)]
    public async Task The_readme_resp_example_routes_batches_and_ends_a_malformed_connection()
    {
        var router = new CommandRouter<RespCommand>(command => command.Name, ignoreCase: true)
            .Map("PING", (connection, command) =>
            {
                connection.WriteMessage(RespReplyWriter.Instance, RespReply.Simple("PONG"u8.ToArray()));
                return default;
            })
            .MapFallback((connection, command) =>
            {
                connection.WriteMessage(RespReplyWriter.Instance, RespReply.Error("ERR unknown command"));
                return default;
            });

        await using var test = TestConnection.Start(new MessageConnectionHandler<RespCommand>(() => new RespCommandReader(), router));
        await test.SendAsync("PING\r\n*1\r\n$4\r\nping\r\nNOPE\r\n");
        Assert.Equal("+PONG\r\n+PONG\r\n-ERR unknown command\r\n", Encoding.ASCII.GetString(await test.ReceiveAsync(36, TestContext.Current.CancellationToken)));
        await test.SendAsync("*1\r\n$x\r\n");
        await test.Completion.WaitAsync(TestContext.Current.CancellationToken);
        Assert.Equal(ConnectionEndReason.ProtocolError, test.Connection.EndReason);
    }
}
