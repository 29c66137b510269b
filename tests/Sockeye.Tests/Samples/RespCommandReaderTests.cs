using System.Buffers;
using System.Text;
using Sockeye.Framing;
using Sockeye.Fuzz;
using Sockeye.Samples.Resp;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Samples;

/// <summary>The RESP sample's reader (samples/Resp/RespCommandReader.cs, compiled in here as the fuzz targets compile it).</summary>
public class RespCommandReaderTests
{
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

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("SET qk \"hello\"", new[] { "SET", "qk", "hello" })]
    [InlineData("  \"a b\"\t'c d'  ", new[] { "a b", "c d" })]
    [InlineData("\"\\x41\\n\\r\\t\\b\\a\\\\\\\"\\q\\x4g\"", new[] { "A\n\r\t\b\a\\\"qx4g" })]
    [InlineData("'it\\'s' 'a\\nb\\\\c'", new[] { "it's", "a\\nb\\\\c" })]
    [InlineData("a\"b c\" \"\" ''", new[] { "ab c", "", "" })]
    [InlineData("no\\quotes\\x41 x\vy", new[] { "no\\quotes\\x41", "x\vy" })]
    public Task Inline_words_are_unquoted_as_Redis_unquotes_them(string line, string[] expected)
    {
        var words = new ArrayBufferWriter<byte>();
        var count = RespCommandReader.SplitWords(Encoding.Latin1.GetBytes(line), words, new ArrayBufferWriter<byte>());

        Assert.Equal(expected, Words(new RespCommand(new ReadOnlySequence<byte>(words.WrittenMemory), count, inline: true)));
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("SET k \"abc")]
    [InlineData("SET k 'abc")]
    [InlineData("SET k \"a\"b")]
    [InlineData("SET k 'a'b")]
    [InlineData("SET k \"abc\\\"")]
    public async Task An_unbalanced_quote_in_an_inline_command_is_a_protocol_error(string line)
    {
        var error = await Assert.ThrowsAsync<ProtocolException>(() => ReadAllAsync(new ScriptedPipeReader([Encoding.ASCII.GetBytes(line + "\r\n")])));

        Assert.Equal("Protocol error: unbalanced quotes in request", error.Message);
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

        Assert.True(new RespCommandReader().TryParseMessage(input, 1024, ref consumed, ref examined, out var command));

        Assert.Equal(input.End, consumed);
        Assert.Equal(3, command.Count);
        Assert.Equal("MGET", Encoding.ASCII.GetString(command.Name.ToArray()));
        Assert.Equal("bc", Encoding.ASCII.GetString(command[2].ToArray()));
        Assert.Throws<ArgumentOutOfRangeException>(() => command[3]);
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData(64)]
    [InlineData(7)]
    public Task A_command_that_arrives_in_pieces_is_walked_once_not_again_from_its_start_at_each_piece(int pieceSize)
    {
        // DEL with 20,000 one-byte keys, about 140 KB: re-parsed from its start at each piece, the reader would walk
        // about (140 KB)^2 / 2 / pieceSize bytes; kept where it got to, about the command's size.
        const int Keys = 20_000;
        var text = new StringBuilder($"*{Keys + 1}\r\n$3\r\nDEL\r\n");
        for (var i = 0; i < Keys; i++)
        {
            text.Append("$1\r\n").Append((char)('a' + (i % 26))).Append("\r\n");
        }

        var data = Encoding.ASCII.GetBytes(text.Append("*1\r\n$4\r\nPING\r\n").ToString());
        var reader = new RespCommandReader();

        var commands = ParseInPieces(reader, data, pieceSize);

        Assert.Equal(2, commands.Count);
        Assert.Equal(Keys + 1, commands[0].Length);
        Assert.Equal("PING", Assert.Single(commands[1]));
        Assert.InRange(reader.BytesScanned, data.Length, 3L * data.Length);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task The_same_bytes_in_random_pieces_give_the_same_commands()
    {
        var data = "*3\r\n$3\r\nSET\r\n$10\r\n0123456789\r\n$12\r\nhello\r\nworld\r\n\r\n\r\n*0\r\n  PING  x\r\n*2\r\n$4\r\nMGET\r\n$0\r\n\r\nECHO y\n*1\r\n$4\r\nQUIT\r\n"u8.ToArray();
        var expected = ParseInPieces(new RespCommandReader(), data, data.Length);
        Assert.Equal(5, expected.Count);
        var random = new Random(20261208);
        for (var round = 0; round < 200; round++)
        {
            var pieces = new List<byte[]>();
            for (var at = 0; at < data.Length;)
            {
                var length = Math.Min(random.Next(1, 12), data.Length - at);
                pieces.Add(data[at..(at + length)]);
                at += length;
            }

            Assert.Equal(expected, await ReadAllAsync(new ScriptedPipeReader(pieces)));
            Assert.Equal(expected, ParseInPieces(new RespCommandReader(), data, random.Next(1, 12)));
        }
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

    /// <summary>
    /// Calls the reader as the read loop does while <paramref name="data"/> arrives <paramref name="pieceSize"/> bytes
    /// at a time, each piece a segment of its own: the input keeps its start, and the examined position it returned
    /// comes back. Returns the commands found.
    /// </summary>
    private static List<string[]> ParseInPieces(RespCommandReader reader, byte[] data, int pieceSize)
    {
        var whole = SegmentedSequence.Of(data, pieceSize);
        var commands = new List<string[]>();
        var start = whole.Start;
        var examined = whole.Start;
        var end = whole.Start;
        for (long available = 0; available < data.Length;)
        {
            var piece = Math.Min(pieceSize, data.Length - available);
            end = whole.GetPosition(piece, end);
            available += piece;
            while (true)
            {
                var input = whole.Slice(start, end);
                var consumed = input.Start;
                if (!reader.TryParseMessage(input, 1024 * 1024, ref consumed, ref examined, out var command))
                {
                    break;
                }

                commands.Add(Words(command));
                start = consumed;
                examined = consumed;
            }
        }

        return commands;
    }

    private static string[] Words(RespCommand command)
    {
        var words = new List<string>();
        foreach (var word in command)
        {
            words.Add(Encoding.ASCII.GetString(word.ToArray()));
        }

        return [.. words];
    }

    // A reader per read, as the sample has one per connection.
    private sealed class Limited(long maxMessageSize) : IMessageReader<RespCommand>
    {
        private readonly RespCommandReader _reader = new();

        public long? MaxMessageSize => maxMessageSize;

        public bool TryParseMessage(in ReadOnlySequence<byte> input, long maxMessageSize, ref SequencePosition consumed, ref SequencePosition examined, out RespCommand message) =>
            _reader.TryParseMessage(input, maxMessageSize, ref consumed, ref examined, out message);
    }
}
