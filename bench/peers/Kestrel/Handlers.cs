using System.Buffers;
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
