using System.Globalization;
using System.Text;
using Sockeye.Framing;
using Sockeye.Testing;
using Sockeye.Tests.Framing;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Messaging;

/// <summary>Groups and broadcasts (issue 14): membership, leaving on end, and broadcasts under churn and failure.</summary>
public class ConnectionGroupTests
{
    private static readonly LineFramer s_lines = new();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_broadcast_reaches_every_member_but_the_one_excepted_and_members_come_and_go()
    {
        var group = new ConnectionGroup();
        await using var members = await Members.StartAsync(3);
        var (alice, bob, carol) = (members[0], members[1], members[2]);
        Assert.All(members.Tests, test => Assert.True(group.Add(test.Connection)));
        Assert.False(group.Add(alice.Connection));
        Assert.Equal(3, group.Count);
        Assert.True(group.Contains(bob.Connection));
        Assert.True(members.Tests.Select(t => t.Connection).ToHashSet().SetEquals(group));

        Assert.Equal(2, await group.BroadcastMessageAsync(s_lines, "hello"u8, except: alice.Connection, cancellationToken: Token));
        Assert.True(group.Remove(carol.Connection));
        Assert.False(group.Remove(carol.Connection));
        Assert.False(group.Contains(carol.Connection));
        Assert.Equal(2, await group.BroadcastAsync("raw\n"u8.ToArray(), cancellationToken: Token));

        Assert.Equal("raw\n", await ReceiveAsync(alice, 4));
        Assert.Equal("hello\nraw\n", await ReceiveAsync(bob, 10));
        Assert.Equal("hello\n", await ReceiveAsync(carol, 6));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Text_is_sent_and_broadcast_as_UTF8_in_the_framers_format()
    {
        var group = new ConnectionGroup();
        await using var members = await Members.StartAsync(2);
        var (alice, bob) = (members[0], members[1]);
        Assert.All(members.Tests, test => Assert.True(group.Add(test.Connection)));

        Assert.Equal(1, await group.BroadcastMessageAsync(s_lines, "* zoë joined ✓", except: alice.Connection, cancellationToken: Token));
        Assert.Equal(SendStatus.Queued, await alice.Connection.SendMessageAsync(s_lines, "welcome, zoë", Token));
        await Assert.ThrowsAsync<ArgumentException>(async () => await alice.Connection.SendMessageAsync(s_lines, "two\nlines", Token));

        var joined = Encoding.UTF8.GetBytes("* zoë joined ✓\n");
        var welcome = Encoding.UTF8.GetBytes("welcome, zoë\n");
        Assert.Equal(joined, await bob.ReceiveAsync(joined.Length, Token));
        Assert.Equal(welcome, await alice.ReceiveAsync(welcome.Length, Token));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Typed_messages_and_messages_read_from_a_member_are_written_once_for_everyone()
    {
        var group = new ConnectionGroup();
        var relaying = ConnectionHandler.Create(async connection =>
        {
            group.Add(connection);
            await foreach (var line in connection.ReadMessagesAsync(s_lines))
            {
                // What a relay does: each line, as read (a slice of the receive buffer), to everyone else.
                await group.BroadcastMessageAsync(s_lines, line, except: connection);
            }
        });
        await using var alice = TestConnection.Start(relaying);
        await using var bob = TestConnection.Start(relaying);
        await PushTests.WaitUntilAsync(() => group.Count == 2);

        await alice.SendAsync("hi bob\n");
        Assert.Equal("hi bob\n", await ReceiveAsync(bob, 7));
        Assert.Equal(2, await group.BroadcastMessageAsync(new ReadingWriter(), new Reading("temperature", 21), cancellationToken: Token));
        Assert.Equal(SendStatus.Queued, await alice.Connection.SendMessageAsync(new ReadingWriter(), new Reading("humidity", 40), Token));

        Assert.Equal("temperature 21\nhumidity 40\n", await ReceiveAsync(alice, 27));
        Assert.Equal("temperature 21\n", await ReceiveAsync(bob, 15));
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_connection_leaves_every_group_when_it_ends_and_cannot_join_afterwards()
    {
        var lobby = new ConnectionGroup();
        var room = new ConnectionGroup();
        await using var members = await Members.StartAsync(2);
        var leaving = members[0];
        Assert.True(lobby.Add(leaving.Connection));
        Assert.True(room.Add(leaving.Connection));
        Assert.True(lobby.Add(members[1].Connection));

        await leaving.CompleteSendingAsync();
        await leaving.Completion.WithTestTimeout();

        Assert.Single(lobby);
        Assert.Empty(room);
        Assert.False(room.Contains(leaving.Connection));
        Assert.False(room.Add(leaving.Connection));
        Assert.Equal([members[1].Connection], lobby);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_member_that_ends_in_the_middle_of_broadcasts_takes_nothing_from_the_others()
    {
        const int Messages = 300;
        var group = new ConnectionGroup();
        await using var members = await Members.StartAsync(6);
        Assert.All(members.Tests, test => Assert.True(group.Add(test.Connection)));
        var readers = members.Tests.Skip(1).Select(test => ReadLinesAsync(test, Messages)).ToArray();

        for (var i = 0; i < Messages; i++)
        {
            if (i == Messages / 2)
            {
                // The client resets; broadcasts go on while its connection ends.
                members[0].Reset();
            }

            await group.BroadcastMessageAsync(s_lines, Encoding.ASCII.GetBytes($"message {i}"), cancellationToken: Token);
        }

        foreach (var lines in await Task.WhenAll(readers).WithTestTimeout())
        {
            Assert.Equal(Enumerable.Range(0, Messages).Select(i => $"message {i}"), lines);
        }

        await members[0].Completion.WithTestTimeout();
        Assert.Equal(5, group.Count);
    }

    [Fact(Timeout = Timeouts.Fast)]
    public async Task Joins_and_leaves_during_broadcasts_never_disturb_the_members_that_stay()
    {
        const int Messages = 500;
        var group = new ConnectionGroup();
        await using var stayers = await Members.StartAsync(4);
        await using var movers = await Members.StartAsync(8);
        Assert.All(stayers.Tests, test => Assert.True(group.Add(test.Connection)));
        var readers = stayers.Tests.Select(test => ReadLinesAsync(test, Messages)).ToArray();
        var moverReaders = movers.Tests.Select(test => DrainAsync(test)).ToArray();
        using var stop = new CancellationTokenSource();

        var churn = Task.Run(async () =>
        {
            var random = new Random(14);
            while (!stop.IsCancellationRequested)
            {
                var mover = movers[random.Next(movers.Count)].Connection;
                _ = random.Next(2) == 0 ? group.Add(mover) : group.Remove(mover);
                await Task.Yield();
            }
        }, Token);

        for (var i = 0; i < Messages; i++)
        {
            await group.BroadcastMessageAsync(s_lines, Encoding.ASCII.GetBytes($"message {i}"), cancellationToken: Token);
        }

        await stop.CancelAsync();
        await churn.WithTestTimeout();
        foreach (var lines in await Task.WhenAll(readers).WithTestTimeout())
        {
            Assert.Equal(Enumerable.Range(0, Messages).Select(i => $"message {i}"), lines);
        }

        // Every mover got some subsequence of the messages, each whole and in order.
        foreach (var mover in movers.Tests)
        {
            group.Remove(mover.Connection);
            await mover.CompleteSendingAsync();
        }

        foreach (var lines in await Task.WhenAll(moverReaders).WithTestTimeout())
        {
            var numbers = lines.Select(line => int.Parse(line.AsSpan("message ".Length), CultureInfo.InvariantCulture)).ToArray();
            Assert.Equal(numbers.Order(), numbers);
            Assert.Equal(numbers.Distinct().Count(), numbers.Length);
        }

        Assert.Equal(4, group.Count);
    }

    [Fact(Timeout = Timeouts.Load)]
    public async Task A_group_of_ten_thousand_in_memory_gets_every_message()
    {
        // In memory: ten thousand loopback sockets would take the test most of its time to open.
        const int Size = 10_000;
        const int Messages = 3;
        var group = new ConnectionGroup();
        await using var members = await Members.StartAsync(Size);
        Assert.All(members.Tests, test => group.Add(test.Connection));
        Assert.Equal(Size, group.Count);

        for (var i = 0; i < Messages; i++)
        {
            Assert.Equal(Size, await group.BroadcastMessageAsync(s_lines, Encoding.ASCII.GetBytes($"message {i}"), cancellationToken: Token));
        }

        var expected = string.Concat(Enumerable.Range(0, Messages).Select(i => $"message {i}\n"));
        var received = await Task.WhenAll(members.Tests.Select(test => ReceiveAsync(test, expected.Length))).WithTestTimeout();
        Assert.All(received, text => Assert.Equal(expected, text));
    }

    private static async Task<string> ReceiveAsync(TestConnection test, int count) =>
        Encoding.ASCII.GetString(await test.ReceiveAsync(count, Token));

    private static async Task<List<string>> ReadLinesAsync(TestConnection test, int count)
    {
        var lines = new List<string>();
        await foreach (var line in test.Input.ReadMessagesAsync(s_lines, Token))
        {
            lines.Add(Encoding.ASCII.GetString(line));
            if (lines.Count == count)
            {
                break;
            }
        }

        return lines;
    }

    private static async Task<List<string>> DrainAsync(TestConnection test)
    {
        var lines = new List<string>();
        await foreach (var line in test.Input.ReadMessagesAsync(s_lines, Token))
        {
            lines.Add(Encoding.ASCII.GetString(line));
        }

        return lines;
    }

    /// <summary>In-memory connections whose handlers wait for the client to finish, so they can be pushed to.</summary>
    private sealed class Members : IAsyncDisposable
    {
        private Members(List<TestConnection> tests) => Tests = tests;

        public List<TestConnection> Tests { get; }

        public int Count => Tests.Count;

        public TestConnection this[int index] => Tests[index];

        public static async Task<Members> StartAsync(int count)
        {
            var tests = new List<TestConnection>(count);
            var handler = ConnectionHandler.Create(async connection =>
            {
                var input = connection.Transport.Input;
                while (true)
                {
                    var result = await input.ReadAsync();
                    input.AdvanceTo(result.Buffer.End);
                    if (result.IsCompleted || result.IsCanceled)
                    {
                        return;
                    }
                }
            });
            for (var i = 0; i < count; i++)
            {
                tests.Add(TestConnection.Start(handler));
            }

            // Each handler is running once its connection is listed as serving.
            foreach (var test in tests)
            {
                while (!test.Connection.IsServing)
                {
                    await Task.Yield();
                }
            }

            return new Members(tests);
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var test in Tests)
            {
                await test.DisposeAsync();
            }
        }
    }
}
