using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using Sockeye.Framing;
using Sockeye.Samples.Resp;

namespace Sockeye.Fuzz;

/// <summary>
/// Fuzz cases for samples/Resp's command reader (<c>RespCommandReader</c>, compiled here as it is), as a Redis
/// client's bytes reach it. The first byte picks the maximum message size, the second how many bytes each read
/// returns, the rest is the stream. Only <see cref="ProtocolException"/> may escape; anything else, or a
/// broken promise, throws <see cref="InvalidOperationException"/>. The promises: those of every reader
/// (<see cref="MessageReaderChecks"/>; empty lines and empty arrays may be skipped); a command has at least one
/// word, as many as it says, none over the maximum; an inline line is at most 64 KiB; the stream read in pieces
/// gives the same commands as read at once; every command read, written again as a multibulk array, reads back as
/// the same words.
/// </summary>
public static class RespTarget
{
    public static void Run(ReadOnlySpan<byte> data)
    {
        if (data.Length < 2)
        {
            return;
        }

        var maxMessageSize = 1 + (data[0] * 16);
        var readSize = 1 + (data[1] % 64);
        var reader = new Bounded(new RespCommandReader(), maxMessageSize);
        var input = data[2..].ToArray();
        var (commands, error) = MessageReaderChecks.ReadBothWays(reader, input, readSize, maxMessageSize,
            (command, _) => Check(command, maxMessageSize), Words, Same, skips: true);

        // The reader keeps its progress through a command that arrives in pieces: in pieces or all at once, the same
        // bytes are the same commands.
        var (whole, wholeError) = MessageReaderChecks.ReadBothWays(new Bounded(new RespCommandReader(), maxMessageSize), input,
            Math.Max(1, input.Length), maxMessageSize, (command, _) => Check(command, maxMessageSize), Words, Same, skips: true);
        if (!commands.Zip(whole).All(pair => Same(pair.First, pair.Second)) || (error is null && wholeError is null && commands.Count != whole.Count))
        {
            throw new InvalidOperationException($"Read {readSize} bytes at a time, the input gave {commands.Count} command(s) that differ from the {whole.Count} it gave read at once.");
        }

        foreach (var words in commands)
        {
            // At the default maximum: the array's headers may take a command read inline over the case's.
            ReadBack(new RespCommandReader(), words, readSize);
        }
    }

    private static void Check(RespCommand command, long maxMessageSize)
    {
        var words = Words(command);
        if (words.Length == 0 || words.Length != command.Count)
        {
            throw new InvalidOperationException($"A command says it has {command.Count} word(s) and has {words.Length}.");
        }

        var limit = command.IsInline ? Math.Min(maxMessageSize, RespCommandReader.MaxInlineLength) : maxMessageSize;
        if (words.Any(word => word.Length > limit))
        {
            throw new InvalidOperationException($"A word of {words.Max(word => word.Length)} bytes is over the maximum of {limit}.");
        }
    }

    /// <summary>Written as a multibulk array, the words read back as themselves.</summary>
    private static void ReadBack(IMessageReader<RespCommand> reader, byte[][] words, int readSize)
    {
        var written = new ArrayBufferWriter<byte>();
        Append(written, $"*{words.Length}\r\n");
        foreach (var word in words)
        {
            Append(written, $"${word.Length}\r\n");
            written.Write(word);
            Append(written, "\r\n");
        }

        List<byte[][]> again;
        try
        {
            again = MessageReaderChecks.ReadAll(reader, written.WrittenSpan.ToArray(), readSize, Words);
        }
        catch (PartialResultException<byte[][]> partial)
        {
            throw new InvalidOperationException($"A command written as a multibulk array did not read back: {partial.Error.Message}", partial.Error);
        }

        if (again.Count != 1 || !Same(again[0], words))
        {
            throw new InvalidOperationException($"A command of {words.Length} word(s), written as a multibulk array, read back as {again.Count} command(s) that differ.");
        }
    }

    private static void Append(ArrayBufferWriter<byte> output, string text) => output.Write(Encoding.ASCII.GetBytes(text));

    private static byte[][] Words(RespCommand command)
    {
        var words = new List<byte[]>();
        foreach (var word in command)
        {
            words.Add(word.ToArray());
        }

        return [.. words];
    }

    private static bool Same(byte[][] a, byte[][] b) => a.Length == b.Length && a.Zip(b).All(pair => pair.First.AsSpan().SequenceEqual(pair.Second));

    /// <summary>The reader with the case's maximum, so that the pipe reads with the same maximum as the direct parse.</summary>
    private sealed class Bounded(RespCommandReader inner, long maximum) : IMessageReader<RespCommand>
    {
        public long? MaxMessageSize => maximum;

        public bool TryParseMessage(in ReadOnlySequence<byte> input, long maxMessageSize, ref SequencePosition consumed, ref SequencePosition examined, [MaybeNullWhen(false)] out RespCommand message) =>
            inner.TryParseMessage(input, maxMessageSize, ref consumed, ref examined, out message);
    }
}
