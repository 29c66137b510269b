using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Sockeye.Transport;

namespace Sockeye.Tests.Infrastructure;

internal static class InMemory
{
    /// <summary>A connection whose handler reads <paramref name="input"/> instead of the client's pipe.</summary>
    public static InMemoryConnection WithInput(PipeReader input, long maxMessageSize = 1024 * 1024)
    {
        var connection = new InMemoryConnection(maxMessageSize: maxMessageSize);
        connection.Transport = new ScriptedTransport(input, connection.Transport.Output);
        return connection;
    }

    /// <summary>Everything the handler wrote, once it has finished.</summary>
    public static async Task<string> ReadAllTextAsync(this InMemoryConnection connection)
    {
        using var buffer = new MemoryStream();
        await connection.Client.Input.CopyToAsync(buffer, TestContext.Current.CancellationToken);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Everything the handler wrote before the connection was reset (aborted); fails if it ended cleanly instead.</summary>
    public static async Task<string> ReadAllTextBeforeResetAsync(this InMemoryConnection connection)
    {
        using var buffer = new MemoryStream();
        await Assert.ThrowsAsync<ConnectionResetException>(() => connection.Client.Input.CopyToAsync(buffer, TestContext.Current.CancellationToken));
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Reads at least <paramref name="count"/> bytes the handler wrote, and whatever else has arrived with them.</summary>
    public static async Task<string> ReadTextAsync(this InMemoryConnection connection, int count)
    {
        var result = await connection.Client.Input.ReadAtLeastAsync(count, TestContext.Current.CancellationToken);
        var text = Encoding.UTF8.GetString(result.Buffer.ToArray());
        connection.Client.Input.AdvanceTo(result.Buffer.End);
        return text;
    }

    /// <summary>Puts <paramref name="input"/> and <paramref name="output"/> in place of the handler's pipes.</summary>
    public static void Replace(this InMemoryConnection connection, PipeReader input, PipeWriter output) =>
        connection.Transport = new ScriptedTransport(input, output);

    public static async Task WriteAsync(this PipeWriter writer, string text) =>
        await writer.WriteAsync(Encoding.UTF8.GetBytes(text), TestContext.Current.CancellationToken);

    private sealed class ScriptedTransport(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
