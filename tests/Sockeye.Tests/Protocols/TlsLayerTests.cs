using System.Buffers;
using System.Net.Security;
using System.Security.Authentication;
using System.Text;
using Sockeye.Protocols;
using Sockeye.Tests.Infrastructure;
using Sockeye.Transport;

namespace Sockeye.Tests.Protocols;

/// <summary>The TLS layer over in-memory pipes, with a fake clock for its handshake deadline.</summary>
public class TlsLayerTests
{
    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_handshake_not_finished_within_10_seconds_ends_the_connection()
    {
        using var harness = new LayerHarness(listener => listener.Tls = new TlsOptions(TestCertificates.Server));
        var connection = new InMemoryConnection();

        // The start of a ClientHello, then nothing.
        await connection.Client.Output.WriteAsync(new byte[] { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01 }, TestContext.Current.CancellationToken);
        await harness.RunUntilDeadlineAsync(connection, TimeSpan.FromSeconds(10));

        Assert.Equal(0, harness.HandlerRuns);
        Assert.Equal(ConnectionEndReason.TlsHandshakeTimeout, connection.EndReason);
        Assert.Contains(harness.Logs.Records, r => r.EventId.Id == 46);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task The_handler_reads_and_writes_plain_bytes_and_the_client_gets_close_notify()
    {
        var (reply, records, connection) = await ExchangeOverTls12Async(async c =>
        {
            var result = await c.Transport.Input.ReadAsync();
            var request = result.Buffer.ToArray();
            c.Transport.Input.AdvanceTo(result.Buffer.End);
            await c.Transport.Output.WriteAsync((byte[])[.. "re: "u8, .. request]);
        });

        Assert.Equal("re: plain", reply);
        Assert.Equal(TlsWire.Alert, records[^1]);
        Assert.Equal(TlsWire.ApplicationData, records[^2]);
        Assert.Equal(ConnectionEndReason.ServerClosed, connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_handler_that_throws_gets_no_close_notify_sent_for_it()
    {
        var (_, records, connection) = await ExchangeOverTls12Async(async c =>
        {
            await c.Transport.Output.WriteAsync("half a reply"u8.ToArray());
            throw new InvalidOperationException("the handler failed");
        });

        Assert.NotEqual(TlsWire.Alert, records[^1]);
        Assert.Equal(ConnectionEndReason.HandlerError, connection.EndReason);
    }

    /// <summary>
    /// A TLS 1.2 client over the connection's client pipes sends "plain" and reads to the end, keeping every raw byte
    /// the server sent. TLS 1.2, because its alert records show their type on the wire, where TLS 1.3 hides it.
    /// </summary>
    private static async Task<(string Reply, List<byte> Records, InMemoryConnection Connection)> ExchangeOverTls12Async(Func<Connection, Task> handler)
    {
        using var harness = new LayerHarness(listener => listener.Tls = new TlsOptions(TestCertificates.Server));
        var connection = new InMemoryConnection();
        var run = harness.RunAsync(connection, handler);
        var wire = new TlsWire.RecordingStream(new DuplexPipeStream(connection.Client));
        await using var client = new SslStream(wire);
        using var reply = new MemoryStream();
        try
        {
            // The server's handshake is over once the client's last flight arrives, and a handler that fails at once may
            // end the connection before the client's write of that flight returns: the write then reports a closed pipe.
            await client.AuthenticateAsClientAsync(
                new SslClientAuthenticationOptions
                {
                    TargetHost = "localhost",
                    EnabledSslProtocols = SslProtocols.Tls12,
                    RemoteCertificateValidationCallback = TlsClient.IsTestServer,
                },
                TestContext.Current.CancellationToken);

            // A handler that does not read may be done, its pipes completed, before the client writes.
            await client.WriteAsync("plain"u8.ToArray(), TestContext.Current.CancellationToken);
            await client.CopyToAsync(reply, TestContext.Current.CancellationToken);
        }
        catch (IOException)
        {
            // A stream cut off without close_notify may end in an error; the records tell what was sent.
        }

        await run.WithTestTimeout();
        return (Encoding.ASCII.GetString(reply.ToArray()), TlsWire.RecordTypes(wire.Received.ToArray()), connection);
    }
}
