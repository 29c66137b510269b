using System.Buffers;
using System.Text;
using Sockeye.Framing;
using Sockeye.Messaging;
using TestServer = Sockeye.Testing.TestServer;

namespace Sockeye.Tests.Messaging;

/// <summary><see cref="MessageConnectionHandler{TMessage}"/> with a reader that keeps state: one per connection.</summary>
public class MessageConnectionHandlerTests
{
    private static readonly LineFramer s_lines = new();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_reader_factory_gives_each_connection_a_reader_of_its_own()
    {
        var made = 0;
        var router = MessageHandler.Create<string>((connection, line) =>
        {
            connection.WriteMessage(s_lines, line);
            return default;
        });
        await using var server = TestServer.Start(
            new MessageConnectionHandler<string>(
                () =>
                {
                    Interlocked.Increment(ref made);
                    return new NumberingReader();
                },
                router));

        await using var first = server.Connect();
        await using var second = server.Connect();
        await first.SendAsync("a\nb\n");
        await second.SendAsync("c\n");
        await first.SendAsync("d\n");

        // Each reader numbers the messages it read: the two connections' counts never mix.
        Assert.Equal("a 1\nb 2\nd 3\n", Encoding.UTF8.GetString(await first.ReceiveAsync(12, Token)));
        Assert.Equal("c 1\n", Encoding.UTF8.GetString(await second.ReceiveAsync(4, Token)));
        Assert.Equal(2, made);
    }

    /// <summary>Lines, each with how many this reader has read: state that two connections must not share.</summary>
    private sealed class NumberingReader : IMessageReader<string>
    {
        private int _count;

        public long? MaxMessageSize => null;

        public bool TryParseMessage(in ReadOnlySequence<byte> input, long maxMessageSize, ref SequencePosition consumed, ref SequencePosition examined, out string message)
        {
            if (!s_lines.TryParseMessage(input, maxMessageSize, ref consumed, ref examined, out var line))
            {
                message = "";
                return false;
            }

            message = $"{Encoding.UTF8.GetString(line)} {++_count}";
            return true;
        }

        public bool TryParseFinalMessage(in ReadOnlySequence<byte> input, long maxMessageSize, out string message)
        {
            message = "";
            return false;
        }
    }
}
