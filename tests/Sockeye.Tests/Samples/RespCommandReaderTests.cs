using System.Buffers;
using System.Text;
using Sockeye.Framing;
using Sockeye.Samples.Resp;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Samples;

/// <summary>The RESP sample's reader (samples/Resp/RespCommandReader.cs, compiled in here as the fuzz targets compile it).</summary>
public class RespCommandReaderTests
{
    private static readonly RespCommandReader s_reader = new();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Multibulk_and_inline_commands_arrive_whole_however_the_bytes_are_split()
    {
        var data = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\r\nb \r\n\r\n*0\r\nPING\r\n  get   k \t\n*1\r\n$0\r\n\r\n*-1\r\nECHO x\n"u8.ToArray();
        string[][] expected = [["SET", "k", "a\r\nb "], ["PING"], ["get", "k"], [""], ["ECHO", "x"]];

        Assert.Equal(expected, await ReadAllAsync(ScriptedPipeReader.ByteByByte(data)));
        for (var split = 1; split < data.Length; split++)
        {
            Assert.Equal(expected, await ReadAllAsync(ScriptedPipeReader.SplitAt(data, split)));
        }
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Pipelined_commands_in_one_read_are_all_found()
    {
        var data = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 100).Select(i => $"*2\r\n$3\r\nGET\r\n${i.ToString(System.Globalization.CultureInfo.InvariantCulture).Length}\r\n{i}\r\n")));

        var commands = await ReadAllAsync(new ScriptedPipeReader([data]));

        Assert.Equal(Enumerable.Range(0, 100).Select(i => new[] { "GET", i.ToString(System.Globalization.CultureInfo.InvariantCulture) }), commands);
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("*x\r\n")]
    [InlineData("*1\r\n:1\r\n")]
    [InlineData("*1\r\n$-2\r\n")]
    [InlineData("*1\r\n$1\r\nab\r\n")]
    [InlineData("*1\n$1\r\na\r\n")]
    [InlineData("*1\r\n$99999999999999999999999999\r\n")]
    [InlineData("*2000000\r\n")]
    [InlineData("*+1\r\n$4\r\nPING\r\n")]
    [InlineData("*01\r\n$4\r\nPING\r\n")]
    [InlineData("*1\r\n$+4\r\nPING\r\n")]
    [InlineData("*1\r\n$ 4\r\nPING\r\n")]
    [InlineData("*1\r\n$3\r\nGET\r\n*1\r\n$1")]
    public async Task Malformed_or_truncated_input_is_a_protocol_error(string input)
    {
        var error = await Assert.ThrowsAsync<ProtocolException>(() => ReadAllAsync(new ScriptedPipeReader([Encoding.ASCII.GetBytes(input)])));

        Assert.Equal(ConnectionEndReason.ProtocolError, error.EndReason);
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("0", 0L)]
    [InlineData("-1", -1L)]
    [InlineData("42", 42L)]
    [InlineData("9223372036854775807", long.MaxValue)]
    [InlineData("-9223372036854775808", long.MinValue)]
    [InlineData("9223372036854775808", null)]
    [InlineData("-9223372036854775809", null)]
    [InlineData("99999999999999999999", null)]
    [InlineData("", null)]
    [InlineData("-", null)]
    [InlineData("-0", null)]
    [InlineData("05", null)]
    [InlineData("+5", null)]
    [InlineData(" 5", null)]
    [InlineData("5 ", null)]
    [InlineData("1e3", null)]
    public Task Integers_are_read_as_Redis_reads_them(string text, long? expected)
    {
        var parsed = RespCommandReader.TryParseInteger(Encoding.ASCII.GetBytes(text), out var value);

        Assert.Equal(expected, parsed ? value : null);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_bulk_length_over_the_maximum_is_refused_as_soon_as_its_header_arrives()
    {
        var error = await Assert.ThrowsAsync<ProtocolException>(() => ReadAllAsync(new ScriptedPipeReader(["*2\r\n$3\r\nSET\r\n$2000\r\n"u8.ToArray()]), maxMessageSize: 1024));

        Assert.Equal(ConnectionEndReason.MessageTooLarge, error.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task An_inline_line_longer_than_64_KiB_is_a_protocol_error()
    {
        var error = await Assert.ThrowsAsync<ProtocolException>(() => ReadAllAsync(new ScriptedPipeReader([new byte[RespCommandReader.MaxInlineLength + 1]])));

        Assert.Contains("too big inline request", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task Words_are_found_by_index_and_in_order()
    {
        var input = new ReadOnlySequence<byte>("*3\r\n$4\r\nMGET\r\n$1\r\na\r\n$2\r\nbc\r\n"u8.ToArray());
        SequencePosition consumed = input.Start, examined = input.Start;

        Assert.True(s_reader.TryParseMessage(input, 1024, ref consumed, ref examined, out var command));

        Assert.Equal(input.End, consumed);
        Assert.Equal(3, command.Count);
        Assert.Equal("MGET", Encoding.ASCII.GetString(command.Name.ToArray()));
        Assert.Equal("bc", Encoding.ASCII.GetString(command[2].ToArray()));
        Assert.Throws<ArgumentOutOfRangeException>(() => command[3]);
        return Task.CompletedTask;
    }

    private static async Task<List<string[]>> ReadAllAsync(ScriptedPipeReader input, long maxMessageSize = 1024 * 1024)
    {
        var commands = new List<string[]>();
        await foreach (var command in input.ReadMessagesAsync(new Limited(maxMessageSize), Token))
        {
            var words = new List<string>();
            foreach (var word in command)
            {
                words.Add(Encoding.ASCII.GetString(word.ToArray()));
            }

            Assert.Equal(command.Count, words.Count);
            commands.Add([.. words]);
        }

        return commands;
    }

    private sealed class Limited(long maxMessageSize) : IMessageReader<RespCommand>
    {
        public long? MaxMessageSize => maxMessageSize;

        public bool TryParseMessage(in ReadOnlySequence<byte> input, long maxMessageSize, ref SequencePosition consumed, ref SequencePosition examined, out RespCommand message) =>
            s_reader.TryParseMessage(input, maxMessageSize, ref consumed, ref examined, out message);
    }
}
