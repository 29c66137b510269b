using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Sockeye.Cli.Handlers;

/// <summary>One JSON object per event, written without reflection so it works under Native AOT.</summary>
internal sealed class JsonLinesFormat(TimeProvider timeProvider) : OutputFormat
{
    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public override string Received(Connection connection, in ReadOnlySequence<byte> message)
    {
        var bytes = message.ToArray();
        return Write(connection, "received", bytes.Length, writer =>
        {
            writer.WriteString("data", Utf8.GetString(bytes));
            if (!IsValidUtf8(bytes))
            {
                writer.WriteBase64String("dataBase64", bytes);
            }
        });
    }

    public override string Sent(Connection connection, long byteCount) => Write(connection, "sent", byteCount, null);

    private static bool IsValidUtf8(byte[] bytes)
    {
        try
        {
            _ = s_strictUtf8.GetCharCount(bytes);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }

    private string Write(Connection connection, string eventName, long byteCount, Action<Utf8JsonWriter>? extra)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("time", timeProvider.GetUtcNow().ToString("O", CultureInfo.InvariantCulture));
            writer.WriteString("event", eventName);
            writer.WriteNumber("connection", connection.Id);
            writer.WriteString("remote", connection.RemoteEndPoint?.ToString());
            writer.WriteNumber("bytes", byteCount);
            extra?.Invoke(writer);
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan) + "\n";
    }
}
