using System.Buffers;
using Sockeye.Cli.Handlers;

namespace Sockeye.Tests.Cli.Handlers;

public class KeptBytesTests
{
    [Theory(Timeout = Timeouts.Fast)]
    [InlineData(1, 600 * 1024)]
    [InlineData(1000, 600 * 1024)]
    [InlineData(64 * 1024, 1536 * 1024)]
    public Task Holds_what_it_keeps_plus_at_most_one_chunk_and_gives_it_all_back(int pieceSize, int total)
    {
        // A 600 KiB message under way held a 1 MiB array: the copy doubled as it grew.
        var sent = new byte[total];
        for (var i = 0; i < sent.Length; i++)
        {
            sent[i] = (byte)(i * 7 % 251);
        }

        using var kept = new KeptBytes();
        for (var offset = 0; offset < total; offset += pieceSize)
        {
            kept.Append(new ReadOnlySequence<byte>(sent, offset, Math.Min(pieceSize, total - offset)));
        }

        Assert.Equal(total, kept.Length);
        Assert.InRange(kept.Held, total, total + KeptBytes.MaxChunkSize);
        Assert.Equal(sent, kept.Bytes.ToArray());

        kept.Clear();
        Assert.Equal(0, kept.Held);
        Assert.True(kept.Bytes.IsEmpty);
        kept.Append(new ReadOnlySequence<byte>(sent, 0, 10));
        Assert.Equal(sent[..10], kept.Bytes.ToArray());
        return Task.CompletedTask;
    }
}
