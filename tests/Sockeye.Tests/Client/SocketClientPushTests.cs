using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Sockeye.Framing;
using Sockeye.Tests.Messaging;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Client;

/// <summary>A client that receives what the server pushes, whenever it comes, while it goes on sending from many tasks.</summary>
public class SocketClientPushTests
{
    private static readonly LineFramer Lines = new();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact(Timeout = Timeouts.Network)]
    public async Task Pushes_from_outside_the_handler_arrive_while_the_client_sends_from_many_tasks()
    {
        const int Senders = 8;
        const int PerSender = 200;
        const int Pushes = 500;
        var received = new ConcurrentQueue<string>();
        var allReceived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var connected = new TaskCompletionSource<Connection>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(async connection =>
        {
            connected.SetResult(connection);
            await foreach (var line in connection.ReadMessagesAsync(Lines))
            {
                received.Enqueue(Encoding.UTF8.GetString(line));
                if (received.Count == Senders * PerSender)
                {
                    allReceived.SetResult();
                }
            }
        });
        await using var client = await SocketClient.ConnectAsync(server.EndPoint, new SocketClientOptions { Framer = Lines }, Token);
        var connection = await connected.Task.WithTestTimeout();

        // The server pushes from a task of its own, not from the handler, while the client's tasks send.
        var pushing = Task.Run(
            async () =>
            {
                for (var i = 0; i < Pushes; i++)
                {
                    Assert.Equal(SendStatus.Queued, await connection.SendMessageAsync(Lines, Encoding.UTF8.GetBytes($"push {i}"), Token));
                }
            },
            Token);
        var sending = Enumerable.Range(0, Senders).Select(sender => Task.Run(async () =>
        {
            for (var i = 0; i < PerSender; i++)
            {
                await client.SendAsync(Encoding.UTF8.GetBytes($"{sender}:{i}:{new string('x', 100 + i)}"), Token);
            }
        }, Token)).ToArray();

        var pushes = new List<string>();
        await foreach (var message in client.ReadMessagesAsync(Lines, Token))
        {
            pushes.Add(Encoding.UTF8.GetString(message));
            if (pushes.Count == Pushes)
            {
                break;
            }
        }

        await Task.WhenAll(sending).WithTestTimeout();
        await pushing.WithTestTimeout();
        await allReceived.Task.WithTestTimeout();

        Assert.Equal(Enumerable.Range(0, Pushes).Select(i => $"push {i}"), pushes);

        // Every message whole, and each sender's in the order it sent them.
        var bySender = received.Select(line => line.Split(':')).GroupBy(parts => int.Parse(parts[0], CultureInfo.InvariantCulture)).ToDictionary(g => g.Key, g => g.ToList());
        Assert.Equal(Senders, bySender.Count);
        foreach (var (_, lines) in bySender)
        {
            Assert.Equal(Enumerable.Range(0, PerSender), lines.Select(parts => int.Parse(parts[1], CultureInfo.InvariantCulture)));
            Assert.All(lines, parts => Assert.Equal(new string('x', 100 + int.Parse(parts[1], CultureInfo.InvariantCulture)), parts[2]));
        }
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task The_stream_parses_with_any_message_reader_and_ends_when_the_server_closes()
    {
        var codec = new JsonMessageCodec<DeviceMessage>(DeviceJson.Default.DeviceMessage);
        await using var server = await TestServer.StartAsync(async connection =>
        {
            await connection.SendMessageAsync(codec, new DeviceMessage("reading", Celsius: 21.5), Token);
            await connection.SendMessageAsync(codec, new DeviceMessage("alert", Text: "hot"), Token);
        });
        await using var client = await SocketClient.ConnectAsync(server.EndPoint, cancellationToken: Token);

        var notes = new List<DeviceMessage>();
        await foreach (var note in client.ReadMessagesAsync(codec, Token))
        {
            notes.Add(note);
        }

        Assert.Equal([new DeviceMessage("reading", Celsius: 21.5), new DeviceMessage("alert", Text: "hot")], notes);
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task A_second_receive_at_the_same_time_is_refused_and_the_first_goes_on()
    {
        var send = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(async connection =>
        {
            await send.Task;
            await connection.SendMessageAsync(Lines, "first"u8, Token);
            await connection.SendMessageAsync(Lines, "second"u8, Token);
        });
        await using var client = await SocketClient.ConnectAsync(server.EndPoint, new SocketClientOptions { Framer = Lines }, Token);

        await using var stream = client.ReadMessagesAsync(Lines, Token).GetAsyncEnumerator(Token);
        var first = stream.MoveNextAsync();

        await Assert.ThrowsAsync<InvalidOperationException>(async () => await client.ReceiveAsync(Token));
        send.SetResult();
        Assert.True(await first);
        Assert.Equal("first", Encoding.UTF8.GetString(stream.Current.ToArray()));
        await stream.DisposeAsync();

        // Once the stream is done with, the next receive takes up where it left the input.
        Assert.Equal("second", Encoding.UTF8.GetString((await client.ReceiveAsync(Token))!));
    }

    [Fact(Timeout = Timeouts.Network)]
    public async Task Disposing_the_client_ends_a_waiting_stream()
    {
        var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(async connection =>
        {
            connected.SetResult();
            await connection.Transport.Input.ReadAsync(Token);
        });
        var client = await SocketClient.ConnectAsync(server.EndPoint, new SocketClientOptions { Framer = Lines }, Token);
        await using var messages = client.ReadMessagesAsync(Lines, Token).GetAsyncEnumerator(Token);
        var reading = messages.MoveNextAsync().AsTask();
        await connected.Task.WithTestTimeout();

        await client.DisposeAsync();

        await Assert.ThrowsAsync<ConnectionAbortedException>(() => reading.WithTestTimeout());
    }
}
