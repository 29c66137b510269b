using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using Sockeye;
using Sockeye.Framing;

/// <summary>
/// The chat. Each connection's handler reads its own lines, and reaches the others with <c>SendMessageAsync</c> (one
/// client) and <c>BroadcastMessageAsync</c> (a room): thread-safe, framed once per broadcast, and bounded, so a client
/// that stops reading is cut off (<c>SlowReader</c>) and never holds up the room.
/// </summary>
internal sealed class ChatServer
{
    private const int MaxNameLength = 32;

    // A chat line is short: a longer one ends that client's connection (MessageTooLarge), and only that one.
    private static readonly LineFramer Lines = new() { MaxMessageSize = 4096 };

    private readonly ConcurrentDictionary<string, Connection> _nicks = new(StringComparer.OrdinalIgnoreCase);

    // A room is created by its first join and removed with its last leave, under one lock (joins are rare next to
    // lines), so no one joins a room as it is removed, and a client cannot fill the server with empty rooms.
    private readonly Dictionary<string, ConnectionGroup> _rooms = new(StringComparer.OrdinalIgnoreCase);

    public async Task RunAsync(Connection connection)
    {
        await using var lines = connection.ReadMessagesAsync(Lines).GetAsyncEnumerator();
        await SendAsync(connection, "* Welcome! What is your nickname?");
        if (await ChooseNickAsync(connection, lines) is not { } nick)
        {
            return;
        }

        var room = await JoinAsync(connection, nick, "lobby");
        try
        {
            while (await lines.MoveNextAsync())
            {
                var line = Encoding.UTF8.GetString(lines.Current).Trim();
                var (command, rest) = Split(line);
                switch (command)
                {
                    case "":
                        break;
                    case "/join" when IsName(rest):
                        await LeaveAsync(connection, nick, room);
                        room = await JoinAsync(connection, nick, rest);
                        break;
                    case "/join":
                        await SendAsync(connection, $"* Usage: /join ROOM (one word of up to {MaxNameLength} letters, digits, - or _)");
                        break;
                    case "/who":
                        await SendAsync(connection, $"* In #{room.Name}: {Nicks(room.Members)}");
                        break;
                    case "/msg":
                        await PrivateMessageAsync(connection, nick, rest);
                        break;
                    case ['/', ..]:
                        await SendAsync(connection, $"* Unknown command {command}. Commands: /join ROOM, /who, /msg NICK text");
                        break;
                    default:
                        await room.Members.BroadcastMessageAsync(Lines, $"{nick}: {line}", except: connection);
                        break;
                }
            }
        }
        finally
        {
            await LeaveAsync(connection, nick, room);
            _nicks.TryRemove(new KeyValuePair<string, Connection>(nick, connection));
        }
    }

    /// <summary>Reads lines until one is a free nickname, and takes it; <see langword="null"/> if the client left first.</summary>
    private async Task<string?> ChooseNickAsync(Connection connection, IAsyncEnumerator<ReadOnlySequence<byte>> lines)
    {
        while (await lines.MoveNextAsync())
        {
            var nick = Encoding.UTF8.GetString(lines.Current).Trim();
            if (!IsName(nick))
            {
                await SendAsync(connection, $"* A nickname is one word of up to {MaxNameLength} letters, digits, - or _. What is yours?");
            }
            else if (!_nicks.TryAdd(nick, connection))
            {
                await SendAsync(connection, $"* {nick} is taken. Choose another.");
            }
            else
            {
                connection.Items["nick"] = nick;
                return nick;
            }
        }

        return null;
    }

    private async Task PrivateMessageAsync(Connection connection, string nick, string arguments)
    {
        var (to, text) = Split(arguments);
        if (to.Length == 0 || text.Length == 0)
        {
            await SendAsync(connection, "* Usage: /msg NICK text");
        }
        else if (!_nicks.TryGetValue(to, out var target))
        {
            await SendAsync(connection, $"* No one is called {to}.");
        }
        else
        {
            await SendAsync(target, $"{nick} (private): {text}");
        }
    }

    private async Task<(string Name, ConnectionGroup Members)> JoinAsync(Connection connection, string nick, string name)
    {
        ConnectionGroup members;
        lock (_rooms)
        {
            if (!_rooms.TryGetValue(name, out members!))
            {
                _rooms[name] = members = new ConnectionGroup();
            }

            members.Add(connection);
        }

        // The others hear of it before the newcomer is told: once told, the newcomer's next move (or someone else's join)
        // can never come before this announcement and reach a member who joined after it.
        await members.BroadcastMessageAsync(Lines, $"* {nick} joined", except: connection);
        await SendAsync(connection, $"* You are {nick}, in #{name} with: {Nicks(members)}");
        return (name, members);
    }

    private async Task LeaveAsync(Connection connection, string nick, (string Name, ConnectionGroup Members) room)
    {
        lock (_rooms)
        {
            room.Members.Remove(connection);
            if (room.Members.Count == 0)
            {
                _rooms.Remove(room.Name);
            }
        }

        await room.Members.BroadcastMessageAsync(Lines, $"* {nick} left");
    }

    private static string Nicks(ConnectionGroup members) =>
        string.Join(", ", members.Select(member => (string)member.Items["nick"]!).Order(StringComparer.OrdinalIgnoreCase));

    // Thread-safe, and queued in order with what others push to this client: a reply never cuts into another's line.
    private static ValueTask<SendStatus> SendAsync(Connection connection, string line) =>
        connection.SendMessageAsync(Lines, line);

    private static (string Head, string Tail) Split(string text)
    {
        var space = text.IndexOf(' ', StringComparison.Ordinal);
        return space < 0 ? (text, string.Empty) : (text[..space], text[(space + 1)..].Trim());
    }

    private static bool IsName(string name) =>
        name.Length is > 0 and <= MaxNameLength && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');
}
