using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Sockeye.Framing;
using Sockeye.Testing;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Testing;

/// <summary>The public testing helper, used as a user would use it on a handler of their own.</summary>
public class TestConnectionTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_handler_is_tested_without_sockets()
    {
        await using var test = TestConnection.Start(new UpperCaseHandler());

        await test.SendAsync("hello");
        Assert.Equal("HELLO"u8.ToArray(), await test.ReceiveAsync(5, Token));
        await test.SendAsync(", world");
        await test.CompleteSendingAsync();

        Assert.Equal(", WORLD", Encoding.UTF8.GetString(await test.ReceiveToEndAsync(Token)));
        await test.Completion.WithTestTimeout();
        Assert.Equal(ConnectionEndReason.ClientClosed, test.Connection.EndReason);
        Assert.True(test.Connection.ConnectionClosed.IsCancellationRequested);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_handler_that_returns_first_closes_the_connection_itself()
    {
        await using var test = TestConnection.Start(ConnectionHandler.Create(async connection =>
            await connection.Transport.Output.WriteAsync("bye"u8.ToArray())));

        Assert.Equal("bye"u8.ToArray(), await test.ReceiveToEndAsync(Token));
        await test.Completion.WithTestTimeout();
        Assert.Equal(ConnectionEndReason.ServerClosed, test.Connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_handler_exception_ends_the_connection_and_is_kept()
    {
        await using var test = TestConnection.Start(ConnectionHandler.Create(_ => throw new InvalidDataException("bad frame")));

        await test.Completion.WithTestTimeout();

        Assert.Equal(ConnectionEndReason.HandlerError, test.Connection.EndReason);
        Assert.Equal("bad frame", Assert.IsType<InvalidDataException>(test.HandlerException).Message);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_handler_exception_reaches_the_client_as_a_reset_after_what_the_handler_flushed()
    {
        await using var test = TestConnection.Start(ConnectionHandler.Create(async connection =>
        {
            await connection.Transport.Output.WriteAsync("sent"u8.ToArray());

            // Written and never flushed: lost with the reset, as it never left the server.
            connection.Transport.Output.Write("unsent"u8);
            throw new InvalidDataException("bad frame");
        }));
        await test.Completion.WithTestTimeout();

        // The bytes first, and not as the end of the stream: a reset follows them.
        var result = await test.Input.ReadAsync(Token);
        Assert.Equal("sent"u8.ToArray(), result.Buffer.ToArray());
        Assert.False(result.IsCompleted);
        test.Input.AdvanceTo(result.Buffer.End);

        var reset = await Assert.ThrowsAsync<ConnectionResetException>(async () => await test.Input.ReadAsync(Token));
        Assert.Equal("The server reset the connection (HandlerError).", reset.Message);
        Assert.Equal(SocketError.ConnectionReset, Assert.IsType<SocketException>(reset.InnerException).SocketErrorCode);
        Assert.Equal(ConnectionEndReason.HandlerError, test.Connection.EndReason);
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("ReceiveAsync")]
    [InlineData("ReceiveToEndAsync")]
    [InlineData("ReceiveMessageAsync")]
    public async Task Every_read_reports_the_reset_once_the_bytes_before_it_are_read(string read)
    {
        await using var test = TestConnection.Start(ConnectionHandler.Create(async connection =>
        {
            await connection.Transport.Output.WriteAsync("first\nsecond\n"u8.ToArray());
            connection.Abort();
        }));
        await test.Completion.WithTestTimeout();

        Assert.Equal("first\n"u8.ToArray(), await test.ReceiveAsync(6, Token));
        var reset = read switch
        {
            // More than arrived: the reset, where a clean end would be an EndOfStreamException.
            "ReceiveAsync" => await Assert.ThrowsAsync<ConnectionResetException>(() => test.ReceiveAsync(100, Token)),
            "ReceiveToEndAsync" => await Assert.ThrowsAsync<ConnectionResetException>(() => test.ReceiveToEndAsync(Token)),
            _ => await ReceiveMessagesUntilResetAsync(test),
        };

        Assert.Equal("The server reset the connection (Aborted).", reset.Message);
        await Assert.ThrowsAsync<ConnectionResetException>(() => test.ReceiveToEndAsync(Token));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task What_the_handler_writes_after_an_abort_never_reaches_the_client()
    {
        var writeAfterAbort = new TaskCompletionSource<FlushResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var test = TestConnection.Start(ConnectionHandler.Create(async connection =>
        {
            connection.Abort();
            writeAfterAbort.TrySetResult(await connection.Transport.Output.WriteAsync("too late"u8.ToArray()));
        }));
        await test.Completion.WithTestTimeout();

        Assert.True((await writeAfterAbort.Task).IsCompleted, "A write after an abort should report that nobody reads.");
        await Assert.ThrowsAsync<ConnectionResetException>(() => test.ReceiveAsync(1, Token));
        Assert.Equal(ConnectionEndReason.Aborted, test.Connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_client_reset_fails_the_handlers_read_as_a_socket_would()
    {
        var readFailed = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        var writeAfterReset = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var test = TestConnection.Start(ConnectionHandler.Create(async connection =>
        {
            try
            {
                await connection.Transport.Input.ReadAsync();
            }
            catch (ConnectionResetException ex)
            {
                readFailed.TrySetResult(ex);
            }

            var flushed = await connection.Transport.Output.WriteAsync("anyone there?"u8.ToArray());
            writeAfterReset.TrySetResult(flushed.IsCompleted);
        }));

        test.Reset();

        Assert.IsType<ConnectionResetException>(await readFailed.Task.WithTestTimeout());
        Assert.True(await writeAfterReset.Task.WithTestTimeout(), "A write after a reset should report that nobody reads.");
        await test.Completion.WithTestTimeout();
        Assert.Equal(ConnectionEndReason.ConnectionReset, test.Connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Stopping_the_server_lets_a_handler_that_listens_finish()
    {
        var clock = new FakeTimeProvider();
        await using var test = TestConnection.Start(ConnectionHandler.Create(async connection =>
        {
            await connection.CloseRequested.WhenCanceled();
            await connection.Transport.Output.WriteAsync("goodbye"u8.ToArray());
        }), timeProvider: clock);

        await test.StopServerAsync().WithTestTimeout();

        Assert.Equal(ConnectionEndReason.ServerClosed, test.Connection.EndReason);
        Assert.Equal("goodbye"u8.ToArray(), await test.ReceiveToEndAsync(Token));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Stopping_the_server_aborts_a_handler_that_ignores_it_after_the_shutdown_timeout_on_the_clock()
    {
        var clock = new FakeTimeProvider();
        var options = new SocketServerOptions { ShutdownTimeout = TimeSpan.FromSeconds(30) };
        await using var test = TestConnection.Start(new UpperCaseHandler(), options, clock);
        await test.SendAsync("in the middle of something");

        var stopping = test.StopServerAsync();
        clock.Advance(TimeSpan.FromSeconds(29));
        Assert.False(stopping.IsCompleted);
        Assert.True(test.Connection.CloseRequested.IsCancellationRequested);
        clock.Advance(TimeSpan.FromSeconds(1));
        await stopping.WithTestTimeout();

        Assert.Equal(ConnectionEndReason.ServerShutdown, test.Connection.EndReason);
        await Assert.ThrowsAsync<ConnectionResetException>(() => test.ReceiveToEndAsync(Token));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task The_connection_follows_the_options_maximum_message_size()
    {
        await using var test = TestConnection.Start(new UpperCaseHandler(), new SocketServerOptions { MaxMessageSize = 4096 });

        Assert.Equal(4096, test.Connection.MaxMessageSize);
        await test.CompleteSendingAsync();
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Receiving_consumes_as_it_goes_so_a_large_reply_never_stalls_the_handler()
    {
        var reply = new byte[1024 * 1024];
        Random.Shared.NextBytes(reply);
        await using var test = TestConnection.Start(ConnectionHandler.Create(async connection =>
            await connection.Transport.Output.WriteAsync(reply)));

        Assert.Equal(reply.AsSpan(0, 300_000).ToArray(), await test.ReceiveAsync(300_000, Token));
        Assert.Equal(reply.AsSpan(300_000).ToArray(), await test.ReceiveToEndAsync(Token));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_client_that_sends_faster_than_the_handler_reads_waits_and_the_input_stays_within_the_receive_buffer()
    {
        const int ReceiveBuffer = 64 * 1024;
        var data = new byte[10 * ReceiveBuffer];
        Random.Shared.NextBytes(data);
        var reading = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var largestRead = 0L;
        var received = new MemoryStream();
        await using var test = TestConnection.Start(
            ConnectionHandler.Create(async connection =>
            {
                var input = connection.Transport.Input;
                await reading.Task;
                while (true)
                {
                    var result = await input.ReadAsync();
                    largestRead = Math.Max(largestRead, result.Buffer.Length);
                    foreach (var segment in result.Buffer)
                    {
                        received.Write(segment.Span);
                    }

                    input.AdvanceTo(result.Buffer.End);
                    if (result.IsCompleted)
                    {
                        return;
                    }
                }
            }),
            new SocketServerOptions { MaxMessageSize = 1024, MaxReceiveBufferSize = ReceiveBuffer });

        // The handler reads nothing yet: the client's send waits once the input holds the receive buffer, as a sender
        // waits on a full TCP window, instead of piling all of it into the handler's input.
        var send = test.SendAsync(data, Token);
        Assert.False(send.IsCompleted);
        reading.SetResult();
        await send.WithTestTimeout();
        await test.CompleteSendingAsync();
        await test.Completion.WithTestTimeout();

        // At most one receive's least room (half a block) over the limit, as over a socket.
        Assert.InRange(largestRead, 1, ReceiveBuffer + 2048);
        Assert.Equal(data, received.ToArray());
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_message_that_fills_the_input_after_a_smaller_one_is_read_whole()
    {
        // The receive buffer is 64 KiB. A 20 KiB line and then a 50 KiB one arrive together: the input fills with the
        // first and 44 KiB of the second, and pauses. Once the first is consumed, the 44 KiB left are more than half the
        // buffer, yet the reader needs the rest of that line to go on: the input must receive again.
        var first = new string('a', 20 * 1024);
        var second = new string('b', 50 * 1024);
        await using var test = TestConnection.Start(
            ConnectionHandler.Create(async connection =>
            {
                await foreach (var line in connection.ReadMessagesAsync(new LineFramer()))
                {
                    await connection.Transport.Output.WriteAsync(Encoding.ASCII.GetBytes($"{line.Length}\n"));
                }
            }),
            new SocketServerOptions { MaxMessageSize = 60 * 1024, MaxReceiveBufferSize = 64 * 1024 });

        await test.SendAsync(first + "\n" + second + "\n");
        await test.CompleteSendingAsync();

        Assert.Equal($"{first.Length}\n{second.Length}\n", Encoding.ASCII.GetString(await test.ReceiveToEndAsync(Token)));
        await test.Completion.WithTestTimeout();
        Assert.Equal(ConnectionEndReason.ClientClosed, test.Connection.EndReason);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Receiving_more_than_the_handler_sends_says_where_it_ended()
    {
        await using var test = TestConnection.Start(ConnectionHandler.Create(async connection =>
            await connection.Transport.Output.WriteAsync("abc"u8.ToArray())));

        var error = await Assert.ThrowsAsync<EndOfStreamException>(() => test.ReceiveAsync(10, Token));

        Assert.Equal("The handler's side ended after 3 of 10 bytes.", error.Message);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Disposing_resets_a_handler_that_is_still_running()
    {
        var test = TestConnection.Start(new UpperCaseHandler());

        await test.DisposeAsync().AsTask().WithTestTimeout();

        Assert.True(test.Completion.IsCompleted);
        Assert.Equal(ConnectionEndReason.ConnectionReset, test.Connection.EndReason);
    }

    private static async Task<ConnectionResetException> ReceiveMessagesUntilResetAsync(TestConnection test)
    {
        var lines = new LineFramer();
        Assert.Equal("second"u8.ToArray(), (await test.ReceiveMessageAsync(lines, Token)).ToArray());
        return await Assert.ThrowsAsync<ConnectionResetException>(() => test.ReceiveMessageAsync(lines, Token));
    }

    /// <summary>A user's handler: upper-cases what arrives, until the client ends its side.</summary>
    private sealed class UpperCaseHandler : ConnectionHandler
    {
        public override async Task OnConnectedAsync(Connection connection)
        {
            var input = connection.Transport.Input;
            while (true)
            {
                var result = await input.ReadAsync();
                foreach (var segment in result.Buffer)
                {
                    await connection.Transport.Output.WriteAsync(Encoding.ASCII.GetBytes(Encoding.ASCII.GetString(segment.Span).ToUpperInvariant()));
                }

                input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    return;
                }
            }
        }
    }
}
