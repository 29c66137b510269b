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

    public static async Task WriteAsync(this PipeWriter writer, string text) =>
        await writer.WriteAsync(Encoding.UTF8.GetBytes(text), TestContext.Current.CancellationToken);

    private sealed class ScriptedTransport(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
