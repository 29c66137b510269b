using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Samples;

/// <summary>samples/Telemetry run as a process: length-prefixed JSON messages routed to handlers by their "type".</summary>
public class TelemetrySampleTests
{
    private static readonly string s_samplePath = typeof(TelemetrySampleTests).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "TelemetrySamplePath").Value!;

    [Fact(Timeout = Timeouts.Process)]
    public async Task Each_type_goes_to_its_handler_and_an_unknown_type_or_a_malformed_message_gets_an_error_reply()
    {
        await using var sample = CliProcess.StartDotnet(s_samplePath, ["--port", "0"]);
        var endPoint = await ListeningOnAsync(sample);
        Assert.Equal(IPAddress.Loopback, endPoint.Address);

        using (var device = await TestClient.ConnectAsync(endPoint))
        {
            // All in one write: the replies come back in order, each from its type's handler.
            await device.SendAsync(Frames(
                """{"type":"hello","device":"d1"}""",
                """{"type":"reading","device":"d1","celsius":21.5}""",
                """{"type":"query","device":"d1"}""",
                """{"type":"reboot"}""",
                """{"type":"QUERY","device":"d2"}"""));
            Assert.Equal(
                [
                    """{"type":"welcome","device":"d1"}""",
                    """{"type":"ack","device":"d1"}""",
                    """{"type":"reading","device":"d1","celsius":21.5}""",
                    """{"type":"error","text":"unknown type \u0027reboot\u0027"}""",
                    """{"type":"error","device":"d2","text":"no reading yet"}""",
                ],
                await ReceiveAsync(device, 5));
        }

        // Malformed JSON gets an error reply, in order with the replies around it, and the device stays connected.
        using (var sloppy = await TestClient.ConnectAsync(endPoint))
        {
            await sloppy.SendAsync(Frames("""{"type":"query","device":"d1"}""", "{\"type\":", "null", """{"type":"hello","device":"d3"}"""));
            Assert.Equal(
                [
                    """{"type":"reading","device":"d1","celsius":21.5}""",
                    """{"type":"error","text":"malformed message"}""",
                    """{"type":"error","text":"malformed message"}""",
                    """{"type":"welcome","device":"d3"}""",
                ],
                await ReceiveAsync(sloppy, 4));
            await sloppy.SendAsync(Frames("""{"type":"hello","device":"d3"}"""));
            Assert.Equal(["""{"type":"welcome","device":"d3"}"""], await ReceiveAsync(sloppy, 1));
        }

        // A length over the maximum (64 KiB) ends that device's connection only, at once: a reset, or an end with
        // nothing in it. The readings stay.
        using (var broken = await TestClient.ConnectAsync(endPoint))
        {
            await broken.SendAsync(new byte[] { 0, 1, 0, 1 });
            try
            {
                Assert.Empty(await broken.ReceiveToEndAsync());
            }
            catch (SocketException error) when (error.SocketErrorCode == SocketError.ConnectionReset)
            {
            }
        }

        using var other = await TestClient.ConnectAsync(endPoint);
        await other.SendAsync(Frames("""{"type":"query","device":"d1"}"""));
        Assert.Equal(["""{"type":"reading","device":"d1","celsius":21.5}"""], await ReceiveAsync(other, 1));
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task A_reading_past_doubles_range_is_refused_and_cannot_break_later_queries()
    {
        await using var sample = CliProcess.StartDotnet(s_samplePath, ["--port", "0"]);
        var endPoint = await ListeningOnAsync(sample);

        // System.Text.Json reads 1e400 as +Infinity, which it cannot write: kept, it made every later query for the
        // device throw in the handler and reset the asking client's connection.
        using (var device = await TestClient.ConnectAsync(endPoint))
        {
            await device.SendAsync(Frames(
                """{"type":"reading","device":"d1","celsius":21.5}""",
                """{"type":"reading","device":"d1","celsius":1e400}""",
                """{"type":"reading","device":"poison","celsius":-1e309}""",
                """{"type":"query","device":"d1"}"""));
            Assert.Equal(
                [
                    """{"type":"ack","device":"d1"}""",
                    """{"type":"error","device":"d1","text":"celsius is out of range"}""",
                    """{"type":"error","device":"poison","text":"celsius is out of range"}""",
                    """{"type":"reading","device":"d1","celsius":21.5}""",
                ],
                await ReceiveAsync(device, 4));
        }

        using var other = await TestClient.ConnectAsync(endPoint);
        await other.SendAsync(Frames("""{"type":"query","device":"poison"}""", """{"type":"query","device":"d1"}"""));
        Assert.Equal(
            [
                """{"type":"error","device":"poison","text":"no reading yet"}""",
                """{"type":"reading","device":"d1","celsius":21.5}""",
            ],
            await ReceiveAsync(other, 2));
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Host_picks_the_address_to_listen_on()
    {
        await using var sample = CliProcess.StartDotnet(s_samplePath, ["--host", "0.0.0.0", "--port", "0"]);
        var endPoint = await ListeningOnAsync(sample);
        Assert.Equal(IPAddress.Any, endPoint.Address);

        using var device = await TestClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, endPoint.Port));
        await device.SendAsync(Frames("""{"type":"hello","device":"d1"}"""));
        Assert.Equal(["""{"type":"welcome","device":"d1"}"""], await ReceiveAsync(device, 1));
    }

    [Theory(Timeout = Timeouts.Process)]
    [InlineData("sockeye-telemetry: --host needs an IP address, not 'nowhere'.", "--host", "nowhere")]
    [InlineData("sockeye-telemetry: --host needs an IP address, not ''.", "--port", "0", "--host")]
    [InlineData("sockeye-telemetry: --port needs a number from 0 to 65535, not '70000'.", "--host", "127.0.0.1", "--port", "70000")]
    [InlineData("sockeye-telemetry: unknown option '--colour' (try --help).", "--colour", "blue")]
    [InlineData("sockeye-telemetry: cannot listen on 192.0.2.1:0: Address 192.0.2.1:0 is not available on this machine.", "--host", "192.0.2.1", "--port", "0")]
    public async Task A_bad_option_is_one_clear_line_and_exit_code_2(string line, params string[] arguments)
    {
        await using var sample = CliProcess.StartDotnet(s_samplePath, arguments);

        Assert.Equal(2, await sample.WaitForExitAsync());
        Assert.Equal([line], sample.StandardError);
    }

    /// <summary>The address the sample says it listens on.</summary>
    private static async Task<IPEndPoint> ListeningOnAsync(CliProcess sample) =>
        IPEndPoint.Parse((await sample.WaitForStandardOutputAsync(@"^Listening on (\S+)$")).Groups[1].Value);

    private static byte[] Frames(params string[] messages)
    {
        var frames = new List<byte>();
        foreach (var message in messages)
        {
            var payload = Encoding.UTF8.GetBytes(message);
            var header = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(header, (uint)payload.Length);
            frames.AddRange(header);
            frames.AddRange(payload);
        }

        return [.. frames];
    }

    private static async Task<List<string>> ReceiveAsync(TestClient client, int count)
    {
        var messages = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var length = BinaryPrimitives.ReadUInt32BigEndian(await client.ReceiveExactlyAsync(4));
            messages.Add(Encoding.UTF8.GetString(await client.ReceiveExactlyAsync((int)length)));
        }

        return messages;
    }
}
