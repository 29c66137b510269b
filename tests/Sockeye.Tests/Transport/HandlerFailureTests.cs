using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Sockeye.Diagnostics;
using Sockeye.Framing;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Transport;

/// <summary>What a handler's exception does: a client's protocol error, or a bug that must never pass unseen.</summary>
public class HandlerFailureTests
{
    [Fact(Timeout = Timeouts.Network)]
    public async Task A_protocol_exception_from_the_handler_is_the_clients_error_and_closes_without_a_reset()
    {
        var ended = new TaskCompletionSource<Connection>(TaskCreationOptions.RunContinuationsAsynchronously);
        var framer = new LineFramer();
        await using var server = await TestServer.StartAsync(async connection =>
        {
            ended.TrySetResult(connection);
            await foreach (var line in connection.ReadMessagesAsync(framer))
            {
                if (!line.FirstSpan.StartsWith("GET "u8))
                {
                    connection.WriteMessage(framer, "ERR unknown command"u8);
                    throw new ProtocolException("The client sent an unknown command.");
                }
            }
        });
        using var client = await server.ConnectAsync();

        // More than one line: what the handler never read must not turn the close into a reset either.
        await client.SendAsync("FROB x\nGET y\n");

        Assert.Equal("ERR unknown command\n", await client.ReceiveTextToEndAsync());
        var connection = await ended.Task.WithTestTimeout();
        await connection.WaitClosedAsync();
        Assert.Equal(ConnectionEndReason.ProtocolError, connection.EndReason);
        var endLine = await server.Logs.WaitForAsync(r => r.EventId.Id == 11);
        Assert.Equal(LogLevel.Information, endLine.Level);
        var reason = await server.Logs.WaitForAsync(r => r.EventId.Id == 18);
        Assert.Equal(LogLevel.Debug, reason.Level);
        Assert.Contains("The client sent an unknown command.", reason.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(server.Logs.Records, r => r.Level >= LogLevel.Warning);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_protocol_exception_from_a_handler_under_test_ends_it_as_the_exception_says()
    {
        await using var test = Sockeye.Testing.TestConnection.Start(ConnectionHandler.Create(
            _ => throw new ProtocolException("too big for us", ConnectionEndReason.MessageTooLarge)));

        await test.Completion.WithTestTimeout();

        Assert.Equal(ConnectionEndReason.MessageTooLarge, test.Connection.EndReason);
        Assert.IsType<ProtocolException>(test.HandlerException);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task The_default_log_line_is_one_line_with_the_event_id_the_exception_and_where_it_was_thrown()
    {
        Exception thrown;
        try
        {
            throw new InvalidOperationException("first line\nsecond line");
        }
        catch (InvalidOperationException ex)
        {
            thrown = ex;
        }

        var line = StandardErrorLoggerFactory.Format(LogLevel.Error, new EventId(12), "Connection 3: the handler threw", thrown);

        Assert.StartsWith(
            "error: Sockeye[12] Connection 3: the handler threw: System.InvalidOperationException: first line second line (at Sockeye.Tests.Transport.HandlerFailureTests.",
            line,
            StringComparison.Ordinal);
        Assert.DoesNotContain('\n', line);
        return Task.CompletedTask;
    }
}

/// <summary>
/// The convenience constructors write to the process's standard error, which these tests redirect: they run alone, so
/// no other test's lines land in their writer, nor theirs in another's.
/// </summary>
[CollectionDefinition(nameof(StandardErrorRedirected), DisableParallelization = true)]
public sealed class StandardErrorRedirected;

[Collection(nameof(StandardErrorRedirected))]
public class DefaultLoggingTests
{
    [Fact(Timeout = Timeouts.Network)]
    public async Task A_handler_that_throws_under_the_convenience_constructor_is_reported_on_standard_error()
    {
        var error = await CaptureStandardErrorAsync(async () =>
        {
            var options = new SocketServerOptions();
            options.Listen(IPAddress.Loopback, 0);
            var ran = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await using var server = new SocketServer(options, _ => Throw(ran, "handler bug 7f3a"));
            await RunOneConnectionAsync(server, ran.Task);
        });

        var line = Assert.Single(error, l => l.Contains("handler bug 7f3a", StringComparison.Ordinal));
        Assert.Matches(@"^error: Sockeye\[12\] Connection \d+: the handler threw: System\.InvalidOperationException: handler bug 7f3a \(at ", line);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_null_logger_factory_turns_it_off()
    {
        var error = await CaptureStandardErrorAsync(async () =>
        {
            var options = new SocketServerOptions();
            options.Listen(IPAddress.Loopback, 0);
            var ran = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await using var server = new SocketServer(
                options, _ => Throw(ran, "silenced 51c2"), Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
            await RunOneConnectionAsync(server, ran.Task);
        });

        Assert.DoesNotContain(error, l => l.Contains("silenced 51c2", StringComparison.Ordinal));
    }

    private static Task Throw(TaskCompletionSource ran, string message)
    {
        ran.TrySetResult();
        return Task.FromException(new InvalidOperationException(message));
    }

    /// <summary>Starts the server, connects once, waits until the handler has run and failed, and stops it: its lines are written by then.</summary>
    private static async Task RunOneConnectionAsync(SocketServer server, Task handlerRan)
    {
        await server.StartAsync(TestContext.Current.CancellationToken);
        try
        {
            using var client = await TestClient.ConnectAsync(server.EndPoints[0]);
            await client.ReceiveToEndAsync();
        }
        catch (SocketException)
        {
            // The failed handler's connection is reset, so fast that even the connect may report it.
        }

        await handlerRan.WithTestTimeout();

        // Stopping waits for the connection's closing sequence, which logged the failure.
        await server.StopAsync(TestContext.Current.CancellationToken);
    }

    private static async Task<string[]> CaptureStandardErrorAsync(Func<Task> run)
    {
        var original = Console.Error;
        using var captured = new StringWriter();
        Console.SetError(TextWriter.Synchronized(captured));
        try
        {
            await run();
        }
        finally
        {
            Console.SetError(original);
        }

        return captured.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }
}
