using System.Buffers;
using System.Net.Sockets;
using System.Text;
using Sockeye.Framing;
using Sockeye.Messaging;
using Sockeye.Testing;
using Sockeye.Tests.Infrastructure;
using SocketTestServer = Sockeye.Tests.Infrastructure.TestServer;
using TestServer = Sockeye.Testing.TestServer;

namespace Sockeye.Tests.Transport;

/// <summary>
/// How the client sees the server end a connection, over a socket and over the testing kit's in-memory connections: the
/// same, so that a test of a handler passes in memory only if it would pass over TCP. A close is the end of the stream
/// after the last byte (a return, a <see cref="ProtocolException"/>, or an error handler that ends the connection after
/// its reply); an abort (a handler's fault, <see cref="Connection.Abort()"/>, a message too large) is a reset after the
/// bytes sent before it, with nothing the handler had not flushed by then, or wrote after it. Here, not with the testing
/// kit's own tests, so that the portable transport's pass runs the sockets' side too.
/// </summary>
public class ClientSeesTheEndTests
{
    private const string Clean = "end of stream";
    private const string Reset = "connection reset";
    private static readonly LineFramer s_lines = new();

    public enum Client
    {
        Socket,
        TestConnection,
        TestServer,
    }

    /// <summary>What the handler does once it has replied and the client sends its next line.</summary>
    public enum Ending
    {
        Returns,
        ThrowsProtocolException,
        ThrowsAfterAnErrorReply,
        Throws,
        ThrowsLeavingAReplyUnflushed,
        Aborts,
        MessageTooLarge,
    }

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Theory(Timeout = Timeouts.Network)]
    [InlineData(Client.Socket, Ending.Returns, ConnectionEndReason.ServerClosed, "", Clean)]
    [InlineData(Client.TestConnection, Ending.Returns, ConnectionEndReason.ServerClosed, "", Clean)]
    [InlineData(Client.TestServer, Ending.Returns, ConnectionEndReason.ServerClosed, "", Clean)]
    [InlineData(Client.Socket, Ending.ThrowsProtocolException, ConnectionEndReason.ProtocolError, "", Clean)]
    [InlineData(Client.TestConnection, Ending.ThrowsProtocolException, ConnectionEndReason.ProtocolError, "", Clean)]
    [InlineData(Client.TestServer, Ending.ThrowsProtocolException, ConnectionEndReason.ProtocolError, "", Clean)]
    [InlineData(Client.Socket, Ending.ThrowsAfterAnErrorReply, ConnectionEndReason.HandlerError, "sorry\n", Clean)]
    [InlineData(Client.TestConnection, Ending.ThrowsAfterAnErrorReply, ConnectionEndReason.HandlerError, "sorry\n", Clean)]
    [InlineData(Client.TestServer, Ending.ThrowsAfterAnErrorReply, ConnectionEndReason.HandlerError, "sorry\n", Clean)]
    [InlineData(Client.Socket, Ending.Throws, ConnectionEndReason.HandlerError, "", Reset)]
    [InlineData(Client.TestConnection, Ending.Throws, ConnectionEndReason.HandlerError, "", Reset)]
    [InlineData(Client.TestServer, Ending.Throws, ConnectionEndReason.HandlerError, "", Reset)]
    [InlineData(Client.Socket, Ending.ThrowsLeavingAReplyUnflushed, ConnectionEndReason.HandlerError, "", Reset)]
    [InlineData(Client.TestConnection, Ending.ThrowsLeavingAReplyUnflushed, ConnectionEndReason.HandlerError, "", Reset)]
    [InlineData(Client.TestServer, Ending.ThrowsLeavingAReplyUnflushed, ConnectionEndReason.HandlerError, "", Reset)]
    [InlineData(Client.Socket, Ending.Aborts, ConnectionEndReason.Aborted, "", Reset)]
    [InlineData(Client.TestConnection, Ending.Aborts, ConnectionEndReason.Aborted, "", Reset)]
    [InlineData(Client.TestServer, Ending.Aborts, ConnectionEndReason.Aborted, "", Reset)]
    [InlineData(Client.Socket, Ending.MessageTooLarge, ConnectionEndReason.MessageTooLarge, "", Reset)]
    [InlineData(Client.TestConnection, Ending.MessageTooLarge, ConnectionEndReason.MessageTooLarge, "", Reset)]
    [InlineData(Client.TestServer, Ending.MessageTooLarge, ConnectionEndReason.MessageTooLarge, "", Reset)]
    public async Task The_reply_arrives_then_a_close_or_a_reset_as_over_a_socket(
        Client kind, Ending ending, ConnectionEndReason reason, string rest, string end)
    {
        var served = new TaskCompletionSource<Connection>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var client = await ConnectAsync(kind, Handler(ending, served));

        await client.SendAsync("go\n");

        // The reply has arrived, and is left unread: the end must come after it, not in its place.
        await client.WaitUntilArrivedAsync(6);
        await client.SendAsync(ending == Ending.MessageTooLarge ? new string('x', 4096) + "\n" : "next\n");

        Assert.Equal("hello\n", await client.ReceiveAsync(6));
        Assert.Equal((rest, end), await client.ReceiveToEndAsync());
        var connection = await served.Task.WithTestTimeout();
        await connection.WaitClosedAsync();
        Assert.Equal(reason, connection.EndReason);
    }

    /// <summary>
    /// A routed handler that throws, with no <see cref="MessageConnectionHandler{TMessage}.OnError"/>: the replies to the
    /// messages before it, which the loop batches, arrive before the reset (and what the failed one wrote), however the
    /// commands arrived. Whether the client learns that its earlier commands ran must not depend on TCP's segments.
    /// </summary>
    [Theory(Timeout = Timeouts.Network)]
    [InlineData(Client.Socket, "boom", "ok\nok\n")]
    [InlineData(Client.TestConnection, "boom", "ok\nok\n")]
    [InlineData(Client.TestServer, "boom", "ok\nok\n")]
    [InlineData(Client.Socket, "half", "ok\nok\nhal")]
    [InlineData(Client.TestConnection, "half", "ok\nok\nhal")]
    [InlineData(Client.TestServer, "half", "ok\nok\nhal")]
    public async Task A_routed_handler_that_throws_sends_the_replies_before_it_then_resets(Client kind, string failing, string expected)
    {
        var router = new CommandRouter<ReadOnlySequence<byte>>(line => line)
            .Map("ok", (connection, _) =>
            {
                connection.WriteMessage(s_lines, "ok"u8);
                return default;
            })
            .Map("half", (connection, _) =>
            {
                connection.Transport.Output.Write("hal"u8);
                throw new InvalidOperationException("A bug in the handler.");
            })
            .MapFallback((_, _) => throw new InvalidOperationException("A bug in the handler."));
        await using var client = await ConnectAsync(kind, new MessageConnectionHandler<ReadOnlySequence<byte>>(s_lines, router));

        // In one send: the three commands arrive together, and the first two replies wait for the batch's flush.
        await client.SendAsync($"ok\nok\n{failing}\n");

        Assert.Equal((expected, Reset), await client.ReceiveToEndAsync());
    }

    /// <summary>
    /// A message too large behind messages whose replies are batched: the replies go out before the reset that the
    /// message too large brings, rather than being dropped with the batch.
    /// </summary>
    [Theory(Timeout = Timeouts.Network)]
    [InlineData(Client.Socket)]
    [InlineData(Client.TestConnection)]
    [InlineData(Client.TestServer)]
    public async Task A_message_too_large_behind_batched_replies_resets_after_them(Client kind)
    {
        var router = new CommandRouter<ReadOnlySequence<byte>>(line => line).MapFallback((connection, _) =>
        {
            connection.WriteMessage(s_lines, "ok"u8);
            return default;
        });
        await using var client = await ConnectAsync(kind, new MessageConnectionHandler<ReadOnlySequence<byte>>(s_lines, router));

        await client.SendAsync("a\nb\n" + new string('x', 4096) + "\n");

        Assert.Equal(("ok\nok\n", Reset), await client.ReceiveToEndAsync());
    }

    /// <summary>
    /// The server's stop ends a message loop between messages, also when the client keeps its input full: the commands
    /// behind the one in hand are not run, and the client gets the replies, then the end of the stream (not, at the
    /// shutdown timeout, a reset that would cut them).
    /// </summary>
    [Fact(Timeout = Timeouts.Network)]
    public async Task The_stop_ends_a_pipelining_client_between_messages()
    {
        var run = 0;
        SocketTestServer? server = null;
        var router = new CommandRouter<ReadOnlySequence<byte>>(line => line)
            .Map("stop", async (connection, command) =>
            {
                Interlocked.Increment(ref run);
                _ = server!.Server.StopAsync(Token);
                var asked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                await using (connection.CloseRequested.Register(asked.SetResult))
                {
                    await asked.Task.WaitAsync(Token);
                }

                connection.WriteMessage(s_lines, "stopping"u8);
            })
            .MapFallback((connection, _) =>
            {
                Interlocked.Increment(ref run);
                connection.WriteMessage(s_lines, "ok"u8);
                return default;
            });
        server = await SocketTestServer.StartAsync(
            new MessageConnectionHandler<ReadOnlySequence<byte>>(s_lines, router), options => options.DrainDelay = TimeSpan.Zero);
        await using var client = new SocketClient(server, await server.ConnectAsync());

        await client.SendAsync("a\nstop\n" + string.Concat(Enumerable.Repeat("b\n", 1000)));

        Assert.Equal(("ok\nstopping\n", Clean), await client.ReceiveToEndAsync());
        Assert.Equal(2, run);
    }

    /// <summary>
    /// <see cref="Connection.Close"/> from a routed handler (a QUIT): every reply written until then arrives, then the end
    /// of the stream, not a reset; a command that arrived behind it is not run.
    /// </summary>
    [Theory(Timeout = Timeouts.Network)]
    [InlineData(Client.Socket)]
    [InlineData(Client.TestConnection)]
    [InlineData(Client.TestServer)]
    public async Task Close_from_a_routed_handler_sends_every_reply_then_ends_the_stream(Client kind)
    {
        var served = new TaskCompletionSource<Connection>(TaskCreationOptions.RunContinuationsAsynchronously);
        var run = 0;
        var router = new CommandRouter<ReadOnlySequence<byte>>(line => line)
            .Map("set", (connection, _) =>
            {
                served.TrySetResult(connection);
                Interlocked.Increment(ref run);
                connection.WriteMessage(s_lines, "OK"u8);
                return default;
            })
            .Map("quit", (connection, _) =>
            {
                connection.WriteMessage(s_lines, "BYE"u8);
                connection.Close();
                return default;
            });
        await using var client = await ConnectAsync(kind, new MessageConnectionHandler<ReadOnlySequence<byte>>(s_lines, router));

        await client.SendAsync("set\nset\nquit\nset\n");

        Assert.Equal(("OK\nOK\nBYE\n", Clean), await client.ReceiveToEndAsync());
        var connection = await served.Task.WithTestTimeout();
        await connection.WaitClosedAsync();
        Assert.Equal(ConnectionEndReason.ServerClosed, connection.EndReason);
        Assert.Equal(2, run);
    }

    /// <summary>
    /// <see cref="Connection.Close"/> from outside the handler (an operator's kick): a message loop waiting for its next
    /// message ends, and the client sees the end of the stream after the replies.
    /// </summary>
    [Theory(Timeout = Timeouts.Network)]
    [InlineData(Client.Socket)]
    [InlineData(Client.TestConnection)]
    [InlineData(Client.TestServer)]
    public async Task Close_from_outside_ends_a_message_loop_between_messages(Client kind)
    {
        var served = new TaskCompletionSource<Connection>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var client = await ConnectAsync(kind, Handler(Ending.Returns, served));
        await client.SendAsync("go\n");
        await client.WaitUntilArrivedAsync(6);
        var connection = await served.Task.WithTestTimeout();

        connection.Close();

        Assert.Equal(("hello\n", Clean), await client.ReceiveToEndAsync());
        await connection.WaitClosedAsync();
        Assert.Equal(ConnectionEndReason.ServerClosed, connection.EndReason);
    }

    /// <summary>
    /// Once the reset is in, the client's next send fails, over a socket (a <see cref="NetworkStream"/>'s write: "Broken
    /// pipe" after the reset was read) and over the testing kit's connections alike, rather than going nowhere unnoticed.
    /// </summary>
    [Theory(Timeout = Timeouts.Network)]
    [InlineData(Client.Socket, Ending.Throws)]
    [InlineData(Client.TestConnection, Ending.Throws)]
    [InlineData(Client.TestServer, Ending.Throws)]
    [InlineData(Client.Socket, Ending.Aborts)]
    [InlineData(Client.TestConnection, Ending.Aborts)]
    [InlineData(Client.TestServer, Ending.Aborts)]
    public async Task After_a_reset_the_clients_send_fails_as_over_a_socket(Client kind, Ending ending)
    {
        var served = new TaskCompletionSource<Connection>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var client = await ConnectAsync(kind, Handler(ending, served));
        await client.SendAsync("go\n");
        await client.SendAsync("next\n");
        Assert.Equal(("hello\n", Reset), await client.ReceiveToEndAsync());

        await Assert.ThrowsAnyAsync<IOException>(() => client.SendAsync("more\n"));
    }

    /// <summary>
    /// A reply flushed right before the end (a fault, or an abort, one call behind the flush) arrives whole before the reset,
    /// on both transports: the flush hands it to the socket before it returns (on the portable transport the send loop runs
    /// on the flushing thread, see <c>ServerContext.OutputPipeOptions</c>). Were it sent later, by a loop of its own, the
    /// reset would drop it: with the output pipe's reader on the thread pool, not one byte of it arrived. Only what the
    /// socket takes at once is promised: of a reply larger than that, the reset discards what the kernel has not sent yet,
    /// on either transport (a 1 MiB reply: 306,176 bytes arrived on epoll, 446,464 on the portable one).
    /// </summary>
    [Theory(Timeout = Timeouts.Network)]
    [InlineData(Ending.Throws, 6)]
    [InlineData(Ending.Throws, 16 * 1024)]
    [InlineData(Ending.Aborts, 6)]
    [InlineData(Ending.Aborts, 16 * 1024)]
    public async Task A_reply_flushed_right_before_an_abort_arrives_whole_before_the_reset(Ending ending, int size)
    {
        var reply = new byte[size];
        reply.AsSpan().Fill((byte)'x');
        reply[^1] = (byte)'\n';
        await using var server = await SocketTestServer.StartAsync(async connection =>
        {
            await foreach (var _ in connection.ReadMessagesAsync(s_lines))
            {
                connection.Transport.Output.Write(reply);
                await connection.Transport.Output.FlushAsync();
                if (ending == Ending.Aborts)
                {
                    connection.Abort();
                    return;
                }

                throw new InvalidOperationException("A bug in the handler.");
            }
        });

        // Many connections: a send that came after the flush would race the abort, and lose only some of the time.
        for (var i = 0; i < 50; i++)
        {
            await using var client = new SocketClient(null, await server.ConnectAsync());
            await client.SendAsync("go\n");

            var (received, end) = await client.ReceiveToEndAsync();

            Assert.Equal((size, Reset), (received.Length, end));
        }
    }

    /// <summary>Replies to "go"; on the next line (or a line too large), ends as <paramref name="ending"/> says.</summary>
    private static ConnectionHandler Handler(Ending ending, TaskCompletionSource<Connection> served)
    {
        if (ending == Ending.ThrowsAfterAnErrorReply)
        {
            // The way a handler has its last words sent before it fails: an error handler that ends the connection.
            return new MessageConnectionHandler<ReadOnlySequence<byte>>(s_lines, MessageHandler.Create<ReadOnlySequence<byte>>(async (connection, line) =>
            {
                served.TrySetResult(connection);
                if (!line.FirstSpan.SequenceEqual("go"u8))
                {
                    throw new InvalidOperationException("A bug in the handler.");
                }

                await connection.WriteMessageAsync(s_lines, "hello"u8.ToArray());
            }))
            {
                OnError = async (connection, _, _) =>
                {
                    await connection.WriteMessageAsync(s_lines, "sorry"u8.ToArray());
                    return MessageErrorAction.EndConnection;
                },
            };
        }

        return ConnectionHandler.Create(async connection =>
        {
            served.TrySetResult(connection);
            await foreach (var line in connection.ReadMessagesAsync(s_lines))
            {
                if (line.FirstSpan.SequenceEqual("go"u8))
                {
                    await connection.WriteMessageAsync(s_lines, "hello"u8.ToArray());
                    continue;
                }

                switch (ending)
                {
                    case Ending.ThrowsProtocolException:
                        throw new ProtocolException("The client said something else.");
                    case Ending.Throws:
                        throw new InvalidOperationException("A bug in the handler.");
                    case Ending.ThrowsLeavingAReplyUnflushed:
                        // Never sent: the reset discards it with everything the server still held.
                        connection.WriteMessage(s_lines, "unsent"u8);
                        throw new InvalidOperationException("A bug in the handler.");
                    case Ending.Aborts:
                        connection.Abort();

                        // Gone with the abort: a socket's reset drops it.
                        await connection.WriteMessageAsync(s_lines, "too late"u8.ToArray());
                        return;
                    default:
                        return;
                }
            }
        });
    }

    private static async Task<IClient> ConnectAsync(Client kind, ConnectionHandler handler)
    {
        var options = new SocketServerOptions { MaxMessageSize = 1024 };
        switch (kind)
        {
            case Client.Socket:
                var server = await SocketTestServer.StartAsync(handler, o => o.MaxMessageSize = options.MaxMessageSize);
                return new SocketClient(server, await server.ConnectAsync());
            case Client.TestConnection:
                return new InMemoryClient(null, TestConnection.Start(handler, options));
            default:
                var testServer = TestServer.Start(handler, options);
                return new InMemoryClient(testServer, testServer.Connect());
        }
    }

    /// <summary>A client as a test would drive it: the reads name a reset as the socket reports it.</summary>
    private interface IClient : IAsyncDisposable
    {
        Task SendAsync(string text);

        /// <summary>Waits until <paramref name="count"/> bytes have arrived, and reads none of them.</summary>
        Task WaitUntilArrivedAsync(int count);

        Task<string> ReceiveAsync(int count);

        /// <summary>What arrived until the end, and how it ended: <see cref="Clean"/> or <see cref="Reset"/>.</summary>
        Task<(string Text, string End)> ReceiveToEndAsync();
    }

    private static string EndOf(IOException error) =>
        error.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionReset } ? Reset : error.ToString();

    private sealed class SocketClient(SocketTestServer? server, TestClient client) : IClient
    {
        private readonly NetworkStream _stream = new(client.Socket);

        public async Task SendAsync(string text) => await _stream.WriteAsync(Encoding.UTF8.GetBytes(text), Token);

        public async Task WaitUntilArrivedAsync(int count)
        {
            var peek = new byte[count];
            while (await client.Socket.ReceiveAsync(peek, SocketFlags.Peek, Token) < count)
            {
                // Part of it: the rest is on its way (a peek returns at once while any byte waits).
                await Task.Yield();
            }
        }

        public async Task<string> ReceiveAsync(int count)
        {
            var buffer = new byte[count];
            await _stream.ReadExactlyAsync(buffer, Token);
            return Encoding.UTF8.GetString(buffer);
        }

        public async Task<(string Text, string End)> ReceiveToEndAsync()
        {
            var received = new MemoryStream();
            var buffer = new byte[4096];
            try
            {
                int read;
                while ((read = await _stream.ReadAsync(buffer, Token)) > 0)
                {
                    received.Write(buffer, 0, read);
                }

                return (Encoding.UTF8.GetString(received.ToArray()), Clean);
            }
            catch (IOException error)
            {
                return (Encoding.UTF8.GetString(received.ToArray()), EndOf(error));
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stream.DisposeAsync();
            client.Dispose();
            if (server is not null)
            {
                await server.DisposeAsync();
            }
        }
    }

    private sealed class InMemoryClient(TestServer? server, TestConnection test) : IClient
    {
        public Task SendAsync(string text) => test.SendAsync(text);

        public async Task WaitUntilArrivedAsync(int count)
        {
            var result = await test.Input.ReadAtLeastAsync(count, Token);
            test.Input.AdvanceTo(result.Buffer.Start);
        }

        public async Task<string> ReceiveAsync(int count) => Encoding.UTF8.GetString(await test.ReceiveAsync(count, Token));

        public async Task<(string Text, string End)> ReceiveToEndAsync()
        {
            var received = new MemoryStream();
            try
            {
                while (true)
                {
                    var result = await test.Input.ReadAsync(Token);
                    foreach (var segment in result.Buffer)
                    {
                        received.Write(segment.Span);
                    }

                    test.Input.AdvanceTo(result.Buffer.End);
                    if (result.IsCompleted)
                    {
                        return (Encoding.UTF8.GetString(received.ToArray()), Clean);
                    }
                }
            }
            catch (IOException error)
            {
                return (Encoding.UTF8.GetString(received.ToArray()), EndOf(error));
            }
        }

        public async ValueTask DisposeAsync()
        {
            await test.DisposeAsync();
            if (server is not null)
            {
                await server.DisposeAsync();
            }
        }
    }
}
