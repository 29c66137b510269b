using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using Sockeye.Cli.Handlers;

namespace Sockeye.Tests.Infrastructure;

/// <summary>A handler output that keeps every event, in the seed's text, for assertions.</summary>
internal sealed class RecordingOutput : HandlerOutput
{
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly SemaphoreSlim _added = new(0);

    public IReadOnlyList<string> Lines => [.. _lines];

    public override ValueTask MessageReceivedAsync(Connection connection, ReadOnlySequence<byte> message)
    {
        Add($"Read {message.Length} bytes from socket.", $" Data : {Encoding.UTF8.GetString(message)}");
        return ValueTask.CompletedTask;
    }

    public override ValueTask MessageSentAsync(Connection connection, long byteCount)
    {
        Add($"Sent {byteCount} bytes to client.");
        return ValueTask.CompletedTask;
    }

    /// <summary>Waits until at least <paramref name="count"/> lines have been recorded.</summary>
    public async Task<IReadOnlyList<string>> WaitForLinesAsync(int count)
    {
        while (_lines.Count < count)
        {
            await _added.WaitAsync(TestContext.Current.CancellationToken);
        }

        return Lines;
    }

    private void Add(params string[] lines)
    {
        foreach (var line in lines)
        {
            _lines.Enqueue(line);
            _added.Release();
        }
    }
}
