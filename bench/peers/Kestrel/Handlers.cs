using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using Microsoft.AspNetCore.Connections;

namespace Sockeye.Peers.Kestrel;

/// <summary>Sends every byte back until the client ends its side.</summary>
[SuppressMessage("Performance", "CA1812", Justification = "Created by Kestrel through UseConnectionHandler.")]
internal sealed class EchoConnectionHandler : ConnectionHandler
{
    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        var output = connection.Transport.Output;
        while (true)
        {
            var result = await input.ReadAsync();
            var buffer = result.Buffer;
            foreach (var segment in buffer)
            {
                output.Write(segment.Span);
            }

            input.AdvanceTo(buffer.End);
            if (!buffer.IsEmpty && (await output.FlushAsync()).IsCompleted)
            {
                return;
            }

            if (result.IsCompleted || result.IsCanceled)
            {
                return;
            }
        }
    }
}

/// <summary>The companion server: reads to the delimiter, reports, echoes the message, closes.</summary>
[SuppressMessage("Performance", "CA1812", Justification = "Created by Kestrel through UseConnectionHandler.")]
internal sealed class EofEchoConnectionHandler : ConnectionHandler
{
    private static readonly byte[] s_delimiter = Encoding.ASCII.GetBytes(SeedReport.Delimiter);

    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        while (true)
        {
            var result = await input.ReadAsync();
            var buffer = result.Buffer;
            if (FindEnd(buffer) is { } end)
            {
                var message = buffer.Slice(0, end);
                var length = (int)message.Length;
                SeedReport.Received(length, Encoding.ASCII.GetString(message));
                foreach (var segment in message)
                {
                    connection.Transport.Output.Write(segment.Span);
                }

                await connection.Transport.Output.FlushAsync();
                SeedReport.Sent(length);
                input.AdvanceTo(end);
                return;
            }

            if (result.IsCompleted || result.IsCanceled)
            {
                input.AdvanceTo(buffer.End);
                return;
            }

            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private static SequencePosition? FindEnd(in ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        return reader.TryReadTo(out ReadOnlySequence<byte> _, s_delimiter, advancePastDelimiter: true) ? reader.Position : null;
    }
}

/// <summary>The seed: reads until the client ends its side, reports, closes.</summary>
[SuppressMessage("Performance", "CA1812", Justification = "Created by Kestrel through UseConnectionHandler.")]
internal sealed class PrintConnectionHandler : ConnectionHandler
{
    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        while (true)
        {
            var result = await input.ReadAsync();
            var buffer = result.Buffer;
            if (result.IsCompleted || result.IsCanceled)
            {
                if (!buffer.IsEmpty)
                {
                    SeedReport.Received((int)buffer.Length, Encoding.ASCII.GetString(buffer));
                }

                input.AdvanceTo(buffer.End);
                return;
            }

            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }
}

/// <summary>
/// Fan-out as a Kestrel user writes it: Kestrel has no registry of connections and its <c>PipeWriter</c> takes one
/// writer at a time, so the application keeps the connections in a <see cref="ConcurrentDictionary{TKey,TValue}"/>
/// and puts a <see cref="SemaphoreSlim"/> around each one's writes. Every line a client sends is copied out of the
/// pipe and sent to every other client in turn.
/// </summary>
[SuppressMessage("Performance", "CA1812", Justification = "Created by Kestrel through UseConnectionHandler.")]
internal sealed class RelayConnectionHandler : ConnectionHandler
{
    private static readonly ConcurrentDictionary<string, Client> s_clients = new();

    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        var self = new Client(connection.Transport.Output);
        s_clients[connection.ConnectionId] = self;
        try
        {
            var input = connection.Transport.Input;
            while (true)
            {
                var result = await input.ReadAsync();
                var buffer = result.Buffer;
                while (buffer.PositionOf((byte)'\n') is { } end)
                {
                    var line = buffer.Slice(0, buffer.GetPosition(1, end)).ToArray();
                    buffer = buffer.Slice(line.Length);
                    foreach (var other in s_clients.Values)
                    {
                        if (other != self)
                        {
                            await other.SendAsync(line);
                        }
                    }
                }

                input.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    return;
                }
            }
        }
        finally
        {
            s_clients.TryRemove(connection.ConnectionId, out _);
        }
    }

    [SuppressMessage("Design", "CA1001", Justification = "A SemaphoreSlim holds no handle unless AvailableWaitHandle is read; senders may still hold it as the client leaves.")]
    private sealed class Client(PipeWriter output)
    {
        private readonly SemaphoreSlim _writing = new(1, 1);

        public async Task SendAsync(byte[] line)
        {
            await _writing.WaitAsync();
            try
            {
                await output.WriteAsync(line);
            }
            catch (Exception ex) when (ex is IOException or InvalidOperationException or ConnectionResetException)
            {
                // The client is gone; its own handler removes it.
            }
            finally
            {
                _writing.Release();
            }
        }
    }
}
