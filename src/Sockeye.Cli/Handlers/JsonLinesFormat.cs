using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace Sockeye.Cli.Handlers;

/// <summary>One JSON object per event, written without reflection so it works under Native AOT.</summary>
internal sealed class JsonLinesFormat(TimeProvider timeProvider) : OutputFormat
{
    public override void WriteReceived(IBufferWriter<byte> destination, Connection connection, in ReadOnlySequence<byte> message) =>
        Write(destination, connection, "received", message.Length, message.ToArray());

    public override void WriteSent(IBufferWriter<byte> destination, Connection connection, long byteCount) =>
        Write(destination, connection, "sent", byteCount, data: null);

    private void Write(IBufferWriter<byte> destination, Connection connection, string eventName, long byteCount, byte[]? data)
    {
        using (var writer = new Utf8JsonWriter(destination))
        {
            writer.WriteStartObject();
            writer.WriteString("time", timeProvider.GetUtcNow().ToString("O", CultureInfo.InvariantCulture));
            writer.WriteString("event", eventName);
            writer.WriteNumber("connection", connection.Id);
            writer.WriteString("remote", connection.RemoteEndPoint?.ToString());
            writer.WriteNumber("bytes", byteCount);
            if (data is not null)
            {
                WriteData(writer, data);
            }

            writer.WriteEndObject();
        }

        destination.Write("\n"u8);
    }

    private static void WriteData(Utf8JsonWriter writer, byte[] data)
    {
        if (System.Text.Unicode.Utf8.IsValid(data))
        {
            // Written from its own bytes: no decoding, no string.
            writer.WriteString("data", data);
            return;
        }

        writer.WriteString("data", ReplacingUtf8.GetString(data));
        writer.WriteBase64String("dataBase64", data);
    }
}
