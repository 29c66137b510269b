using System.Buffers.Binary;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Sockeye.Soak;

/// <summary>
/// The kinds of client a round runs at once against the tight server. Each loops until the round ends: a client's
/// life, then another's. The hostile ones must be ended by the server within a bound; the checksummed ones must get
/// every byte back.
/// </summary>
internal sealed class HostileLoad(Ports ports, Tally tally, int seed)
{
    // The tight server's limits (SoakServer) plus a heartbeat and a margin: how long a hostile client may last.
    private static readonly TimeSpan s_endedWithin = TimeSpan.FromSeconds(8);

    /// <summary>Many small messages sent back to back, then every echo checked.</summary>
    public async Task PipelinedEchoAsync(CancellationToken round)
    {
        var random = new Random(seed);
        while (!round.IsCancellationRequested)
        {
            var request = new StringBuilder();
            for (var i = random.Next(50, 500); i > 0; i--)
            {
                request.Append(i).Append(':').Append(random.Next()).Append('\n');
            }

            await ExchangeAsync("pipelined", ports.Line, Encoding.ASCII.GetBytes(request.ToString()), round);
        }
    }

    /// <summary>One pipelined exchange: the check that the server still answers.</summary>
    public Task PipelinedOnceAsync(CancellationToken cancellationToken) =>
        ExchangeAsync("pipelined", ports.Line, "1:one\n2:two\n3:three\n"u8.ToArray(), cancellationToken);

    /// <summary>Bulk bytes through the echo, the TLS echo and the PROXY echo, each compared by SHA-256.</summary>
    public async Task BulkAsync(CancellationToken round)
    {
        var random = new Random(seed);
        while (!round.IsCancellationRequested)
        {
            var payload = new byte[random.Next(64 * 1024, 1024 * 1024)];
            random.NextBytes(payload);
            switch (random.Next(3))
            {
                case 0:
                    await ExchangeAsync("bulk", ports.Echo, payload, round);
                    break;
                case 1:
                    await TlsExchangeAsync(payload, round);
                    break;
                default:
                    await ExchangeAsync("bulk-proxy", ports.Proxy, payload, round, ValidProxyHeader(random));
                    break;
            }
        }
    }

    /// <summary>A message begun, then a reset: on the echo, and mid-line on the framed listener.</summary>
    public async Task ResettersAsync(CancellationToken round)
    {
        var random = new Random(seed);
        while (!round.IsCancellationRequested)
        {
            await Attempt("reset", async () =>
            {
                using var socket = await Net.ConnectAsync(random.Next(2) == 0 ? ports.Echo : ports.Line, round);
                var part = new byte[random.Next(1, 48 * 1024)];
                random.NextBytes(part);
                part.AsSpan().Replace((byte)'\n', (byte)'x');
                await socket.SendAsync(part, round);
                if (random.Next(2) == 0)
                {
                    // Some reset while the server is writing the echo back.
                    await socket.ReceiveAsync(new byte[1024], round);
                }

                Net.Reset(socket);
                tally.Add("reset.done");
            });
        }
    }

    /// <summary>A line begun and trickled a byte every half second: far below the minimum data rate.</summary>
    public async Task SlowlorisAsync(CancellationToken round)
    {
        while (!round.IsCancellationRequested)
        {
            await Attempt("slowloris", async () =>
            {
                using var socket = await Net.ConnectAsync(ports.Line, round);
                using var stream = new NetworkStream(socket);
                var ending = Net.WaitForEndAsync(stream, s_endedWithin, round);
                await socket.SendAsync("GET / HTTP/1.1\r\nX-a: "u8.ToArray(), round);
                while (!ending.IsCompleted)
                {
                    await Task.WhenAny(ending, Task.Delay(500, round));
                    try
                    {
                        await socket.SendAsync("b"u8.ToArray(), round);
                    }
                    catch (SocketException)
                    {
                        break;
                    }
                }

                await Expect("slowloris", ending, round);
            });
        }
    }

    /// <summary>A megabyte sent to the echo, and the echo never read: the server's writes wait until the write timeout.</summary>
    public async Task NeverReadAsync(CancellationToken round)
    {
        while (!round.IsCancellationRequested)
        {
            await Attempt("never-read", async () =>
            {
                using var socket = await Net.ConnectAsync(ports.Echo, round);
                socket.ReceiveBufferSize = 4096;

                // The server reads until its receive buffer is full, its echo's writes wait, and the write timeout
                // ends it with a reset, which fails the client's sends. Loopback's kernel buffers take megabytes
                // first, so the client keeps sending until one fails.
                var sending = SendUntilFailureAsync(socket, round);
                if (await Task.WhenAny(sending, Task.Delay(s_endedWithin, round)) == sending)
                {
                    tally.Add("never-read.ended");
                }
                else if (!round.IsCancellationRequested)
                {
                    tally.Fail($"never-read: a client that never reads was not ended within {s_endedWithin.TotalSeconds} s");
                }
            });
        }
    }

    private static async Task SendUntilFailureAsync(Socket socket, CancellationToken round)
    {
        var chunk = new byte[64 * 1024];
        try
        {
            while (true)
            {
                await socket.SendAsync(chunk, round);
            }
        }
        catch (SocketException)
        {
        }
    }

    /// <summary>Connections that send nothing: the idle timeout on the echo, the handshake and header timeouts on TLS and PROXY.</summary>
    public async Task IdleAsync(CancellationToken round)
    {
        var random = new Random(seed);
        while (!round.IsCancellationRequested)
        {
            var port = random.Next(3) switch { 0 => ports.Echo, 1 => ports.Tls, _ => ports.Proxy };
            await Attempt("idle", async () =>
            {
                using var socket = await Net.ConnectAsync(port, round);
                using var stream = new NetworkStream(socket);
                await Expect("idle", Net.WaitForEndAsync(stream, s_endedWithin, round), round);
            });
        }
    }

    /// <summary>TLS handshakes that fail: garbage, a hello cut short, a client that rejects the certificate.</summary>
    public async Task TlsFailuresAsync(CancellationToken round)
    {
        var random = new Random(seed);
        while (!round.IsCancellationRequested)
        {
            await Attempt("tls-failure", async () =>
            {
                using var socket = await Net.ConnectAsync(ports.Tls, round);
                using var stream = new NetworkStream(socket, ownsSocket: false);
                switch (random.Next(3))
                {
                    case 0:
                        var garbage = new byte[random.Next(1, 600)];
                        random.NextBytes(garbage);
                        await socket.SendAsync(garbage, round);
                        break;
                    case 1:
                        // A TLS record header that promises a handshake, then a fraction of it.
                        await socket.SendAsync(new byte[] { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03 }, round);
                        break;
                    default:
                        using (var tls = new System.Net.Security.SslStream(stream, leaveInnerStreamOpen: true))
                        {
                            try
                            {
                                await tls.AuthenticateAsClientAsync(
                                    new System.Net.Security.SslClientAuthenticationOptions { TargetHost = "localhost", RemoteCertificateValidationCallback = (_, _, _, _) => false },
                                    round);
                                tally.Fail("tls-failure: a client that rejects the certificate completed its handshake");
                            }
                            catch (System.Security.Authentication.AuthenticationException)
                            {
                                // The client refused the server: it hangs up, as browsers do.
                            }
                        }

                        Net.Reset(socket);
                        tally.Add("tls-failure.ended");
                        return;
                }

                await Expect("tls-failure", Net.WaitForEndAsync(stream, s_endedWithin, round), round);
            });
        }
    }

    /// <summary>PROXY headers that are bad: mutated, garbage, or trickled past the header timeout.</summary>
    public async Task BadProxyAsync(CancellationToken round)
    {
        var random = new Random(seed);
        while (!round.IsCancellationRequested)
        {
            await Attempt("bad-proxy", async () =>
            {
                using var socket = await Net.ConnectAsync(ports.Proxy, round);
                using var stream = new NetworkStream(socket, ownsSocket: false);
                var header = ValidProxyHeader(random);
                switch (random.Next(4))
                {
                    case 0:
                        header[random.Next(Math.Min(header.Length, 14))] ^= (byte)(1 << random.Next(8));
                        break;
                    case 1:
                        random.NextBytes(header);
                        break;
                    case 2:
                        header = Encoding.ASCII.GetBytes("PROXY TCP4 10.0.0.300 10.0.0.1 1 2\r\n");
                        break;
                    default:
                        // Half a header, then nothing: the header timeout.
                        header = header[..(header.Length / 2)];
                        break;
                }

                await socket.SendAsync(header, round);
                var ended = await Net.WaitForEndAsync(stream, s_endedWithin, round);
                if (ended is not null)
                {
                    tally.Add("bad-proxy.ended");
                }
                else if (!round.IsCancellationRequested && header[0] == 0x0D)
                {
                    // A flipped bit can leave a valid v2 header (a TLV's type, say): the echo then waits, idle.
                    tally.Fail("bad-proxy: a connection with a bad header was not ended");
                }
            });
        }
    }

    private async Task ExchangeAsync(string kind, int port, byte[] payload, CancellationToken round, byte[]? prefix = null)
    {
        var localPort = 0;
        await Attempt(kind, () => localPort, async () =>
        {
            using var socket = await Net.ConnectAsync(port, round);
            localPort = ((System.Net.IPEndPoint)socket.LocalEndPoint!).Port;
            if (prefix is not null)
            {
                await socket.SendAsync(prefix, round);
            }

            using var stream = new NetworkStream(socket, ownsSocket: false);
            var reading = ReadAllAsync(stream, round);
            for (var offset = 0; offset < payload.Length; offset += 16 * 1024)
            {
                await socket.SendAsync(payload.AsMemory(offset, Math.Min(16 * 1024, payload.Length - offset)), round);
            }

            socket.Shutdown(SocketShutdown.Send);
            Check(kind, payload, await reading);
        });
    }

    private async Task TlsExchangeAsync(byte[] payload, CancellationToken round)
    {
        var localPort = 0;
        await Attempt("bulk-tls", () => localPort, async () =>
        {
            await using var tls = await Net.ConnectTlsAsync(ports.Tls, round, port => localPort = port);
            var received = new byte[payload.Length];
            var reading = Net.ReadExactlyAsync(tls, received, round);
            for (var offset = 0; offset < payload.Length; offset += 16 * 1024)
            {
                await tls.WriteAsync(payload.AsMemory(offset, Math.Min(16 * 1024, payload.Length - offset)), round);
            }

            await reading;
            Check("bulk-tls", payload, received);
        });
    }

    private void Check(string kind, byte[] sent, byte[] received)
    {
        if (SHA256.HashData(sent).AsSpan().SequenceEqual(SHA256.HashData(received)))
        {
            tally.Add($"{kind}.intact");
        }
        else
        {
            tally.Fail($"{kind}: sent {sent.Length} bytes, got back {received.Length} that differ");
        }
    }

    private static async Task<byte[]> ReadAllAsync(Stream stream, CancellationToken round)
    {
        using var received = new MemoryStream();
        await stream.CopyToAsync(received, round);
        return received.ToArray();
    }

    /// <summary>Runs one client's life; a failure the round's end caused is not one.</summary>
    private Task Attempt(string kind, Func<Task> life) => Attempt(kind, () => 0, life);

    private async Task Attempt(string kind, Func<int> localPort, Func<Task> life)
    {
        try
        {
            await life();
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception error) when (Net.IsConnectionError(error))
        {
            if (kind is "pipelined" or "bulk" or "bulk-tls" or "bulk-proxy")
            {
                tally.Fail($"{kind}: the exchange failed: {error.GetType().Name}: {error.Message} [port {localPort()}]");
            }
            else
            {
                tally.Add($"{kind}.ended");
            }
        }
    }

    private async Task Expect(string kind, Task<TimeSpan?> ending, CancellationToken round)
    {
        var ended = await ending;
        if (ended is not null)
        {
            tally.Add($"{kind}.ended");
        }
        else if (!round.IsCancellationRequested)
        {
            tally.Fail($"{kind}: the server did not end it within {s_endedWithin.TotalSeconds} s");
        }
    }

    private static byte[] ValidProxyHeader(Random random)
    {
        if (random.Next(2) == 0)
        {
            return Encoding.ASCII.GetBytes($"PROXY TCP4 192.0.2.{random.Next(256)} 127.0.0.1 {random.Next(1, 65536)} 443\r\n");
        }

        var header = new byte[16 + 12];
        new byte[] { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x11, 0, 12 }.CopyTo(header, 0);
        random.NextBytes(header.AsSpan(16, 8));
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(24), (ushort)random.Next(65536));
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(26), 443);
        return header;
    }
}

/// <summary>The soak server's listeners.</summary>
internal sealed record Ports(int Echo, int Line, int Tls, int Proxy, int Healthy);
