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
        Assert.Equal(RecordAlert, records[^1]);
        Assert.Equal(RecordApplicationData, records[^2]);
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

        Assert.NotEqual(RecordAlert, records[^1]);
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
        var wire = new RecordingStream(new DuplexPipeStream(connection.Client));
        await using var client = new SslStream(wire);
        await client.AuthenticateAsClientAsync(
            new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                EnabledSslProtocols = SslProtocols.Tls12,
                RemoteCertificateValidationCallback = TlsClient.IsTestServer,
            },
            TestContext.Current.CancellationToken);
        using var reply = new MemoryStream();
        try
        {
            // A handler that does not read may be done, its pipes completed, before the client writes.
            await client.WriteAsync("plain"u8.ToArray(), TestContext.Current.CancellationToken);
            await client.CopyToAsync(reply, TestContext.Current.CancellationToken);
        }
        catch (IOException)
        {
            // A stream cut off without close_notify may end in an error; the records tell what was sent.
        }

        await run.WithTestTimeout();
        return (Encoding.ASCII.GetString(reply.ToArray()), Records(wire.Received.ToArray()), connection);
    }

    private const byte RecordAlert = 0x15;
    private const byte RecordApplicationData = 0x17;

    /// <summary>The content type of each TLS record in <paramref name="bytes"/>.</summary>
    private static List<byte> Records(byte[] bytes)
    {
        var types = new List<byte>();
        for (var offset = 0; offset + 5 <= bytes.Length; offset += 5 + ((bytes[offset + 3] << 8) | bytes[offset + 4]))
        {
            types.Add(bytes[offset]);
        }

        return types;
    }

    private sealed class RecordingStream(Stream inner) : Stream
    {
        public MemoryStream Received { get; } = new();

        public override bool CanRead => true;

        public override bool CanWrite => true;

        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken);
            Received.Write(buffer.Span[..read]);
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            inner.WriteAsync(buffer, cancellationToken);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            inner.WriteAsync(buffer, offset, count, cancellationToken);

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
