using System.Buffers;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Sockeye.Framing;
using Sockeye.Handlers;
using Sockeye.Messaging;
using Sockeye.Protocols;
using Sockeye.Testing;
using Sockeye.Tests.Infrastructure;
using TestServer = Sockeye.Tests.Infrastructure.TestServer;
using Sockeye.Tests.Protocols;
using Sockeye.Transport;
using Sockeye.Transport.Linux;

namespace Sockeye.Tests.Messaging;

/// <summary>Sending to a connection from outside its handler (issue 14).</summary>
public class PushTests
{
    private static readonly LineFramer s_lines = new();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Theory(Timeout = Timeouts.Network)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Many_senders_and_the_handlers_own_replies_reach_the_client_whole_and_each_in_its_order(bool tls)
    {
        const int Senders = 8;
        const int PerSender = 400;
        const int Echoes = 200;
        await using var server = await TestServer.StartAsync(new EchoHandler(s_lines), options =>
        {
            // The senders wait for room rather than lose messages: this test is about order and integrity.
            options.OutboundQueuePolicy = OutboundQueuePolicy.Wait;
            options.MaxOutboundQueueSize = 16 * 1024;
            if (tls)
            {
                options.Listeners[0].Tls = new TlsOptions(TestCertificates.Server);
            }
        });
        await using var client = await LineClient.ConnectAsync(server, tls);
        var connection = await WaitForOneConnectionAsync(server.Server);

        var receiving = client.ReadLinesAsync(Senders * PerSender + Echoes);
        var echoing = Task.Run(async () =>
        {
            for (var i = 0; i < Echoes; i++)
            {
                await client.SendLineAsync($"echo {i:D4}");
            }
        }, Token);
        var statuses = await Task.WhenAll(Enumerable.Range(0, Senders).Select(sender => Task.Run(async () =>
        {
            var queued = 0;
            for (var i = 0; i < PerSender; i++)
            {
                if (await connection.SendMessageAsync(s_lines, Encoding.ASCII.GetBytes($"sender {sender} message {i:D4}"), Token) == SendStatus.Queued)
                {
                    queued++;
                }
            }

            return queued;
        }, Token)));
        await echoing;
        var lines = await receiving.WithTestTimeout();

        Assert.All(statuses, queued => Assert.Equal(PerSender, queued));
        var next = new int[Senders];
        var nextEcho = 0;
        foreach (var line in lines)
        {
            if (line.StartsWith("echo ", StringComparison.Ordinal))
            {
                Assert.Equal($"echo {nextEcho++:D4}", line);
                continue;
            }

            Assert.Matches(@"^sender \d message \d{4}$", line);
            var sender = line[7] - '0';
            Assert.Equal($"sender {sender} message {next[sender]++:D4}", line);
        }

        Assert.Equal(Echoes, nextEcho);
        Assert.All(next, count => Assert.Equal(PerSender, count));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_push_waits_for_the_handlers_unflushed_bytes_and_follows_them_in_the_same_flush()
    {
        var written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var pushed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var test = TestConnection.Start(ConnectionHandler.Create(async connection =>
        {
            var output = connection.Transport.Output;
            output.Write("half of a "u8);
            written.SetResult();
            await pushed.Task;
            output.Write("message\n"u8);
            await output.FlushAsync();
        }));

        await written.Task.WithTestTimeout();
        Assert.Equal(SendStatus.Queued, await test.Connection.SendAsync("pushed\n"u8.ToArray(), Token));
        pushed.SetResult();

        Assert.Equal("half of a message\npushed\n", Encoding.ASCII.GetString(await test.ReceiveToEndAsync(Token)));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Messages_queued_while_the_handler_writes_leave_with_its_reply_in_one_send()
    {
        var (output, socket, connection) = CreateOutput();
        var queue = output.GetOrCreatePushes(connection, new PushSettings(new SocketServerOptions(), null, null));

        // The handler is in the middle of its reply: every push waits, then goes out in the reply's send.
        output.Write("reply\n"u8);
        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(SendStatus.Queued, await queue.Enqueue(OutboundMessage.Copy(Encoding.ASCII.GetBytes($"push {i}\n")), Token));
        }

        await output.FlushAsync(Token);

        Assert.Equal(1, socket.Sends);
        var expected = "reply\n" + string.Concat(Enumerable.Range(0, 100).Select(i => $"push {i}\n"));
        Assert.Equal(expected, Encoding.ASCII.GetString([.. socket.Received]));
        Assert.Equal(0, queue.Size);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Messages_queued_while_the_handler_holds_the_output_leave_in_one_send_once_it_lets_go()
    {
        var (output, socket, connection) = CreateOutput();
        var queue = output.GetOrCreatePushes(connection, new PushSettings(new SocketServerOptions(), null, null));

        // Memory handed out and not advanced: the drain must wait. Giving it back without writing lets it go.
        output.GetMemory();
        for (var i = 0; i < 50; i++)
        {
            await queue.Enqueue(OutboundMessage.Copy(Encoding.ASCII.GetBytes($"push {i}\n")), Token);
        }

        Assert.Equal(0, socket.Sends);
        output.Advance(0);

        await WaitUntilAsync(() => queue.Size == 0 && socket.ReceivedCount > 0);
        Assert.Equal(1, socket.Sends);
        Assert.Equal(string.Concat(Enumerable.Range(0, 50).Select(i => $"push {i}\n")), Encoding.ASCII.GetString([.. socket.Received]));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task What_is_queued_when_the_handler_returns_is_sent_before_the_end_and_later_sends_report_closed()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var test = TestConnection.Start(ConnectionHandler.Create(async connection =>
        {
            // Holding memory keeps the pushes queued until the handler is done.
            connection.Transport.Output.GetMemory();
            await release.Task;
        }));

        await test.Connection.SendAsync("one\n"u8.ToArray(), Token);
        await test.Connection.SendMessageAsync(s_lines, "two"u8, Token);
        release.SetResult();

        Assert.Equal("one\ntwo\n", Encoding.ASCII.GetString(await test.ReceiveToEndAsync(Token)));
        await test.Completion.WithTestTimeout();
        Assert.Equal(SendStatus.Closed, await test.Connection.SendAsync("three\n"u8.ToArray(), Token));
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_push_behind_the_PROXY_protocol_reaches_the_client()
    {
        await using var server = await TestServer.StartAsync(new EchoHandler(s_lines), options =>
            options.Listeners[0].ProxyProtocol = new ProxyProtocolOptions { TrustedProxies = { System.Net.IPNetwork.Parse("127.0.0.0/8") } });
        using var client = await TestClient.ConnectAsync(server.EndPoint);
        await client.SendAsync("PROXY TCP4 192.0.2.10 192.0.2.20 40000 11000\r\n");
        var connection = await WaitForOneConnectionAsync(server.Server);

        Assert.Equal(SendStatus.Queued, await connection.SendMessageAsync(s_lines, "pushed"u8, Token));

        Assert.Equal("pushed\n", Encoding.ASCII.GetString(await client.ReceiveExactlyAsync(7)));
        Assert.Equal("192.0.2.10:40000", connection.RemoteEndPoint?.ToString());
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Items_are_the_connections_own_and_created_on_first_use()
    {
        var ready = new TaskCompletionSource<Connection>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var test = TestConnection.Start(ConnectionHandler.Create(async connection =>
        {
            Assert.Null(connection.ExistingExtras);
            connection.Items["nick"] = "alice";
            ready.SetResult(connection);
            await connection.Transport.Input.ReadAsync();
        }));

        var connection = await ready.Task.WithTestTimeout();
        await Task.Run(() => connection.Items["seen"] = true, Token);

        Assert.Equal("alice", connection.Items["nick"]);
        Assert.Equal(true, connection.Items["seen"]);
    }

    internal static async Task<Connection> WaitForOneConnectionAsync(SocketServer server)
    {
        while (true)
        {
            if (server.Connections.FirstOrDefault() is { } connection)
            {
                return connection;
            }

            await Task.Delay(5, Token);
        }
    }

    internal static async Task WaitUntilAsync(Func<bool> condition)
    {
        while (!condition())
        {
            await Task.Delay(2, Token);
        }
    }

    /// <summary>An epoll output over a fake socket that records each send, with a connection to push to it.</summary>
    private static (ConnectionOutput Output, RecordingSocket Socket, InMemoryConnection Connection) CreateOutput()
    {
        var socket = new RecordingSocket();
        var output = new ConnectionOutput(new PipeSettings(new PinnedBlockMemoryPool(), 64 * 1024, inlineContinuations: true), socket);
        return (output, socket, new InMemoryConnection());
    }

    private sealed class RecordingSocket : IOutputTransport
    {
        public List<byte> Received { get; } = [];

        public int Sends { get; private set; }

        public int ReceivedCount
        {
            get
            {
                lock (Received)
                {
                    return Received.Count;
                }
            }
        }

        public SendResult Send(in ReadOnlySequence<byte> data)
        {
            lock (Received)
            {
                Received.AddRange(data.ToArray());
                Sends++;
                return new SendResult((int)data.Length, false, SocketError.Success);
            }
        }

        public void SendBlocked(bool blocked)
        {
        }
    }
}

/// <summary>A line client over a plain or TLS socket.</summary>
internal sealed class LineClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly Queue<string> _lines = new();
    private readonly StringBuilder _pending = new();
    private readonly byte[] _buffer = new byte[64 * 1024];

    private LineClient(Socket socket, Stream stream)
    {
        _socket = socket;
        _stream = stream;
    }

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public static async Task<LineClient> ConnectAsync(TestServer server, bool tls = false, int? receiveBufferSize = null)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (receiveBufferSize is { } size)
        {
            socket.ReceiveBufferSize = size;
        }

        await socket.ConnectAsync(server.EndPoint, Token);
        Stream stream = new NetworkStream(socket, ownsSocket: false);
        if (tls)
        {
            var ssl = new SslStream(stream);
            await ssl.AuthenticateAsClientAsync(
                new SslClientAuthenticationOptions { TargetHost = "localhost", RemoteCertificateValidationCallback = TlsClient.IsTestServer }, Token);
            stream = ssl;
        }

        return new LineClient(socket, stream);
    }

    public async Task SendLineAsync(string line) => await _stream.WriteAsync(Encoding.ASCII.GetBytes(line + "\n"), Token);

    /// <summary>Reads <paramref name="count"/> lines; what arrived after them is kept for the next call.</summary>
    public async Task<List<string>> ReadLinesAsync(int count)
    {
        var lines = new List<string>(count);
        while (true)
        {
            while (lines.Count < count && _lines.Count > 0)
            {
                lines.Add(_lines.Dequeue());
            }

            if (lines.Count == count)
            {
                return lines;
            }

            var read = await _stream.ReadAsync(_buffer, Token);
            if (read == 0)
            {
                throw new EndOfStreamException($"The server closed after {lines.Count} of {count} lines.");
            }

            foreach (var c in Encoding.ASCII.GetString(_buffer, 0, read))
            {
                if (c == '\n')
                {
                    _lines.Enqueue(_pending.ToString());
                    _pending.Clear();
                }
                else
                {
                    _pending.Append(c);
                }
            }
        }
    }

    /// <summary>Reads until the server closes.</summary>
    public async Task<string> ReadToEndAsync()
    {
        using var received = new MemoryStream();
        await _stream.CopyToAsync(received, Token);
        return Encoding.ASCII.GetString(received.ToArray());
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _socket.Dispose();
    }
}
