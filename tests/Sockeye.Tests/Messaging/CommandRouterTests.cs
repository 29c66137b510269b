using System.Buffers;
using System.Text;
using Sockeye.Framing;
using Sockeye.Messaging;
using Sockeye.Tests.Infrastructure;
using Sockeye.Testing;

namespace Sockeye.Tests.Messaging;

/// <summary>Routing by a command name in the message's bytes: the first word of a line, here.</summary>
public class CommandRouterTests
{
    private static readonly LineFramer s_lines = new();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData(true, "GET\nget a\nGeT b\nput c\nDEL\n", "get:GET\nget:get a\nget:GeT b\nput:put c\nunknown:DEL\n")]
    [InlineData(false, "GET\nget a\nGeT b\nput c\n", "unknown:GET\nget:get a\nunknown:GeT b\nput:put c\n")]
    public async Task Commands_are_found_by_name_with_or_without_case(bool ignoreCase, string input, string expected)
    {
        var router = new CommandRouter<ReadOnlySequence<byte>>(FirstWord, ignoreCase)
            .Map("get", Reply("get"))
            .Map("put", Reply("put"))
            .MapFallback(Reply("unknown"));
        var connection = InMemory.WithInput(ScriptedPipeReader.ByteByByte(Encoding.ASCII.GetBytes(input)));

        // Byte by byte, every name lies across segments: it is compared all the same.
        await connection.RunAsync(new MessageConnectionHandler<ReadOnlySequence<byte>>(s_lines, router)).WithTestTimeout();

        Assert.Equal(expected, await connection.ReadAllTextAsync());
        Assert.Equal(ConnectionEndReason.ServerClosed, connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_name_longer_than_any_mapped_one_goes_to_the_fallback()
    {
        var router = new CommandRouter<ReadOnlySequence<byte>>(FirstWord).Map("get", Reply("get")).MapFallback(Reply("unknown"));
        var name = new string('g', 1000);
        var connection = InMemory.WithInput(new ScriptedPipeReader([Encoding.ASCII.GetBytes(name[..500]), Encoding.ASCII.GetBytes(name[500..] + "\nget\n")]));

        await connection.RunAsync(new MessageConnectionHandler<ReadOnlySequence<byte>>(s_lines, router)).WithTestTimeout();

        Assert.Equal($"unknown:{name}\nget:get\n", await connection.ReadAllTextAsync());
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Without_a_fallback_an_unknown_command_ends_the_connection_as_a_protocol_error()
    {
        var router = new CommandRouter<ReadOnlySequence<byte>>(FirstWord).Map("get", Reply("get"));
        await using var test = TestConnection.Start(new MessageConnectionHandler<ReadOnlySequence<byte>>(s_lines, router));

        await test.SendAsync("get\nnope\nget\n");
        await test.Completion;

        Assert.Equal("get:get\n", Encoding.ASCII.GetString(await test.ReceiveToEndAsync(Token)));
        Assert.Equal(ConnectionEndReason.ProtocolError, test.Connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task Names_are_mapped_once_and_ignoring_case_needs_ascii()
    {
        var router = new CommandRouter<ReadOnlySequence<byte>>(FirstWord, ignoreCase: true).Map("GET", Reply("get"));

        Assert.Throws<ArgumentException>(() => router.Map("get", Reply("again")));
        Assert.Throws<ArgumentException>(() => router.Map("grüß", Reply("umlaut")));
        return Task.CompletedTask;
    }

    private static ReadOnlySequence<byte> FirstWord(ReadOnlySequence<byte> line) =>
        line.PositionOf((byte)' ') is { } space ? line.Slice(0, space) : line;

    /// <summary>Replies "tag:line", so the test sees which handler took which line.</summary>
    private static MessageHandler<ReadOnlySequence<byte>> Reply(string tag) => MessageHandler.Create<ReadOnlySequence<byte>>((connection, line) =>
    {
        connection.WriteMessage(s_lines, Encoding.ASCII.GetBytes($"{tag}:{Encoding.ASCII.GetString(line.ToArray())}"));
        return ValueTask.CompletedTask;
    });
}
