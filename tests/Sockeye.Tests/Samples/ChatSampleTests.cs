using System.Globalization;
using System.Reflection;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Samples;

/// <summary><c>samples/Chat</c> run as a process, with real socket clients and <c>nc</c>.</summary>
public class ChatSampleTests
{
    private static readonly string s_samplePath = typeof(ChatSampleTests).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ChatSamplePath").Value!;

    [Fact(Timeout = Timeouts.Process)]
    public async Task Nicknames_rooms_who_private_messages_and_leaving()
    {
        var (chat, port) = await StartAsync();
        await using var _ = chat;
        using var alice = await JoinAsync(port, "alice", "* You are alice, in #lobby with: alice");
        using var bob = await JoinAsync(port, "bob", "* You are bob, in #lobby with: alice, bob");
        Assert.Equal("* bob joined", await alice.ExpectLineAsync());

        await bob.SendLineAsync("hello, everyone");
        Assert.Equal("bob: hello, everyone", await alice.ExpectLineAsync());
        await alice.SendLineAsync("/who");
        Assert.Equal("* In #lobby: alice, bob", await alice.ExpectLineAsync());
        await alice.SendLineAsync("/msg BOB   just between us");
        Assert.Equal("alice (private): just between us", await bob.ExpectLineAsync());

        await alice.SendLineAsync("/join games");
        Assert.Equal("* You are alice, in #games with: alice", await alice.ExpectLineAsync());
        Assert.Equal("* alice left", await bob.ExpectLineAsync());
        await bob.SendLineAsync("/join games");
        Assert.Equal("* You are bob, in #games with: alice, bob", await bob.ExpectLineAsync());
        Assert.Equal("* bob joined", await alice.ExpectLineAsync());

        bob.Dispose();
        Assert.Equal("* bob left", await alice.ExpectLineAsync());

        // The nickname is free again once its owner has left.
        using var bobAgain = await JoinAsync(port, "bob", "* You are bob, in #lobby with: bob");
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Empty_and_taken_nicknames_and_bad_commands_get_a_clear_line_and_the_client_stays()
    {
        var (chat, port) = await StartAsync();
        await using var _ = chat;
        using var alice = await JoinAsync(port, "alice", "* You are alice, in #lobby with: alice");
        using var other = await LineClient.ConnectAsync(port);
        Assert.Equal("* Welcome! What is your nickname?", await other.ExpectLineAsync());

        await other.SendLineAsync(string.Empty);
        Assert.Equal("* A nickname is one word of up to 32 letters, digits, - or _. What is yours?", await other.ExpectLineAsync());
        await other.SendLineAsync("Alice");
        Assert.Equal("* Alice is taken. Choose another.", await other.ExpectLineAsync());
        await other.SendLineAsync("carol");
        Assert.Equal("* You are carol, in #lobby with: alice, carol", await other.ExpectLineAsync());

        await other.SendLineAsync("/dance");
        Assert.Equal("* Unknown command /dance. Commands: /join ROOM, /who, /msg NICK text", await other.ExpectLineAsync());
        await other.SendLineAsync("/msg nobody hi");
        Assert.Equal("* No one is called nobody.", await other.ExpectLineAsync());
        await other.SendLineAsync("/msg alice");
        Assert.Equal("* Usage: /msg NICK text", await other.ExpectLineAsync());
        await other.SendLineAsync("/join");
        Assert.Equal("* Usage: /join ROOM (one word of up to 32 letters, digits, - or _)", await other.ExpectLineAsync());

        // Still in the room, and heard.
        Assert.Equal("* carol joined", await alice.ExpectLineAsync());
        await other.SendLineAsync("still here");
        Assert.Equal("carol: still here", await alice.ExpectLineAsync());
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task A_client_that_never_reads_does_not_stall_the_room_and_is_cut_off()
    {
        const int LineLength = 1000;
        const int Lines = 8 * 1024;   // 8 MiB: past the kernel's buffers for the client that never reads, and its queue's bound
        var (chat, port) = await StartAsync();
        await using var _ = chat;
        using var reader = await JoinAsync(port, "reader", "* You are reader, in #lobby with: reader");
        using var neverReads = await JoinAsync(port, "stuck", "* You are stuck, in #lobby with: reader, stuck");
        neverReads.Socket.ReceiveBufferSize = 4096;
        using var sender = await JoinAsync(port, "sender", "* You are sender, in #lobby with: reader, sender, stuck");
        Assert.Equal("* stuck joined", await reader.ExpectLineAsync());
        Assert.Equal("* sender joined", await reader.ExpectLineAsync());

        // The sender keeps at most 32 KiB on the way to the reader, which reads as fast as it can.
        const int ChunkLines = 16;
        using var credit = new SemaphoreSlim(2);
        var stuckLeft = false;
        var receiving = Task.Run(
            async () =>
            {
                for (var j = 0; j < Lines; j++)
                {
                    var line = await reader.ExpectLineAsync();
                    if (line == "* stuck left")
                    {
                        stuckLeft = true;
                        line = await reader.ExpectLineAsync();
                    }

                    Assert.Equal($"sender: {Line(j, LineLength)}", line);
                    if ((j + 1) % ChunkLines == 0)
                    {
                        credit.Release();
                    }
                }
            },
            TestContext.Current.CancellationToken);
        for (var j = 0; j < Lines; j += ChunkLines)
        {
            if (await Task.WhenAny(credit.WaitAsync(TestContext.Current.CancellationToken), receiving) == receiving)
            {
                await receiving;   // the reader failed: its error is the test's
            }

            await sender.SendAsync(string.Concat(Enumerable.Range(j, ChunkLines).Select(k => Line(k, LineLength) + "\n")));
        }

        await receiving;

        // The one that never read was cut off, and the room heard it leave.
        if (!stuckLeft)
        {
            Assert.Equal("* stuck left", await reader.ExpectLineAsync());
        }

        await reader.SendLineAsync("/who");
        Assert.Equal("* In #lobby: reader, sender", await reader.ExpectLineAsync());
    }

    [Fact(Timeout = Timeouts.Process)]
    public async Task Works_with_netcat()
    {
        var (chat, port) = await StartAsync();
        await using var _ = chat;
        using var alice = await JoinAsync(port, "alice", "* You are alice, in #lobby with: alice");

        using var nc = InteractiveTool.Start("nc", "netcat-openbsd", "-N", "127.0.0.1", port.ToString(CultureInfo.InvariantCulture));
        Assert.Equal("* Welcome! What is your nickname?", await nc.ReadLineAsync());
        await nc.SendLineAsync("netcat");
        Assert.Equal("* You are netcat, in #lobby with: alice, netcat", await nc.ReadLineAsync());
        Assert.Equal("* netcat joined", await alice.ExpectLineAsync());
        await nc.SendLineAsync("hi from nc");
        Assert.Equal("netcat: hi from nc", await alice.ExpectLineAsync());
        await alice.SendLineAsync("hi, nc");
        Assert.Equal("alice: hi, nc", await nc.ReadLineAsync());

        nc.CloseInput();   // with -N, netcat then ends its side
        Assert.Equal("* netcat left", await alice.ExpectLineAsync());
    }

    [Theory(Timeout = Timeouts.Process)]
    [InlineData("--port", "http")]
    [InlineData("--host", "nowhere")]
    [InlineData("--colour", "blue")]
    public async Task A_bad_option_is_one_line_and_exit_code_2(string option, string value)
    {
        await using var chat = CliProcess.StartDotnet(s_samplePath, [option, value]);

        Assert.Equal(2, await chat.WaitForExitAsync());
        Assert.Equal($"chat: expected --port 0-65535 or --host ADDRESS, got '{option} {value}'.", Assert.Single(chat.StandardError));
    }

    private static async Task<(CliProcess Chat, int Port)> StartAsync()
    {
        var chat = CliProcess.StartDotnet(s_samplePath, ["--port", "0"]);
        var listening = await chat.WaitForStandardOutputAsync(@"^Chat listening on 127\.0\.0\.1:(\d+)$");
        return (chat, int.Parse(listening.Groups[1].Value, CultureInfo.InvariantCulture));
    }

    private static async Task<LineClient> JoinAsync(int port, string nick, string joined)
    {
        var client = await LineClient.ConnectAsync(port);
        Assert.Equal("* Welcome! What is your nickname?", await client.ExpectLineAsync());
        await client.SendLineAsync(nick);
        Assert.Equal(joined, await client.ExpectLineAsync());
        return client;
    }

    private static string Line(int number, int length)
    {
        var prefix = number.ToString("D6", CultureInfo.InvariantCulture) + " ";
        return prefix + new string((char)('a' + (number % 26)), length - prefix.Length);
    }
}
