using System.Buffers;
using System.Text;
using Sockeye.Framing;
using Sockeye.Messaging;

namespace Sockeye.Samples.Resp;

/// <summary>
/// The commands the server knows, each a small handler routed by name (<see cref="CommandRouter{TMessage}"/>,
/// ignoring case), with Redis's arity rules and error replies. Handlers only write replies: the message loop
/// sends every reply to a batch of pipelined commands at once. MGET alone flushes as it goes, as its reply can be
/// far larger than its command.
/// </summary>
internal static class RespCommands
{
    /// <summary>
    /// A reply past this many unsent bytes is flushed as it is written: the library flushes a batch of replies past
    /// the same size, but only between commands.
    /// </summary>
    private const int LargeReply = 64 * 1024;

    private static readonly RespReply s_pong = RespReply.Simple("PONG"u8.ToArray());
    private static readonly RespReply s_noProto = RespReply.Error("NOPROTO unsupported protocol version");
    private static readonly RespReply s_notInteger = RespReply.Error("ERR value is not an integer or out of range");
    private static readonly RespReply s_syntax = RespReply.Error("ERR syntax error");
    private static readonly RespReply s_emptyArray = RespReply.Array(0);

    // What CONFIG GET reports: enough for redis-benchmark, which asks for "save" and "appendonly".
    private static readonly (string Name, string Value)[] s_config = [("save", ""), ("appendonly", "no"), ("databases", "1"), ("maxmemory", "0")];

    /// <summary>The router of every command; unknown names get Redis's error.</summary>
    public static CommandRouter<RespCommand> CreateRouter(KeyValueStore store)
    {
        var router = new CommandRouter<RespCommand>(command => command.Name, ignoreCase: true);
        var commandCount = 0;

        // Arity as Redis counts it: the words, the name included; negative for "at least".
        Map("PING", -1, (c, cmd) => Reply(c, cmd.Count switch
        {
            1 => s_pong,
            2 => RespReply.Bulk(cmd[1]),
            _ => WrongArity(cmd),
        }));
        Map("ECHO", 2, (c, cmd) => Reply(c, RespReply.Bulk(cmd[1])));
        Map("QUIT", -1, (c, _) =>
        {
            // The reply goes out, then the connection closes: no command after QUIT runs, even one already here.
            Reply(c, RespReply.Ok);
            c.Close();
        });
        Map("SELECT", 2, (c, cmd) => Reply(c, !TryParseInteger(cmd[1], out var index) || index is < int.MinValue or > int.MaxValue
            ? s_notInteger
            : index == 0 ? RespReply.Ok : RespReply.Error("ERR DB index is out of range")));

        Map("GET", 2, (c, cmd) =>
        {
            if (!store.TryRead(Key(cmd[1]), c, static (c, value) => Reply(c, RespReply.Bulk(value))))
            {
                Reply(c, RespReply.Null);
            }
        });
        Map("SET", -3, (c, cmd) => Set(c, cmd, store));
        Map("DEL", -2, (c, cmd) => Reply(c, RespReply.Number(CountKeys(cmd, store.Remove))));
        Map("EXISTS", -2, (c, cmd) => Reply(c, RespReply.Number(CountKeys(cmd, store.Contains))));
        Map("INCR", 2, (c, cmd) => Increment(c, store, cmd[1], 1));
        Map("DECR", 2, (c, cmd) => Increment(c, store, cmd[1], -1));
        Map("INCRBY", 3, (c, cmd) =>
        {
            if (TryParseInteger(cmd[2], out var delta))
            {
                Increment(c, store, cmd[1], delta);
            }
            else
            {
                Reply(c, s_notInteger);
            }
        });
        Map("DECRBY", 3, (c, cmd) =>
        {
            if (!TryParseInteger(cmd[2], out var delta))
            {
                Reply(c, s_notInteger);
            }
            else if (delta == long.MinValue)
            {
                Reply(c, RespReply.Error("ERR decrement would overflow"));     // as Redis 7: -delta does not fit
            }
            else
            {
                Increment(c, store, cmd[1], -delta);
            }
        });
        MapAsync("MGET", -2, async (c, cmd) =>
        {
            // The one reply that can be far larger than its command (a key named many times): it goes out as it is
            // written, so the send buffer's backpressure holds the handler, not the server's memory.
            Reply(c, RespReply.Array(cmd.Count - 1));
            var words = cmd.GetEnumerator();
            words.MoveNext();
            while (words.MoveNext())
            {
                if (!store.TryRead(Key(words.Current), c, static (c, value) => Reply(c, RespReply.Bulk(value))))
                {
                    Reply(c, RespReply.Null);
                }

                if (c.Transport.Output is { CanGetUnflushedBytes: true, UnflushedBytes: >= LargeReply } output
                    && (await output.FlushAsync()).IsCompleted)
                {
                    return;     // the client is gone
                }
            }
        });
        Map("MSET", -3, (c, cmd) =>
        {
            if (cmd.Count % 2 == 0)
            {
                Reply(c, WrongArity(cmd));
                return;
            }

            var words = cmd.GetEnumerator();
            words.MoveNext();
            store.SetAll(words);
            Reply(c, RespReply.Ok);
        });
        Map("DBSIZE", 1, (c, _) => Reply(c, RespReply.Number(store.Count)));
        Map("FLUSHALL", -1, Flush);
        Map("FLUSHDB", -1, Flush);

        // What clients ask before they start.
        Map("HELLO", -1, (c, cmd) => Hello(c, cmd));
        Map("COMMAND", -1, (c, cmd) => Reply(c, cmd.Count > 1 && Equals(cmd[1], "COUNT"u8) ? RespReply.Number(commandCount) : s_emptyArray));
        Map("CONFIG", -2, (c, cmd) => Config(c, cmd));
        Map("INFO", -1, (c, _) => Reply(c, RespReply.Bulk(Encoding.ASCII.GetBytes(
            $"# Server\r\nredis_version:7.0.0\r\nredis_mode:standalone\r\nserver_name:sockeye-resp\r\n\r\n# Keyspace\r\ndb0:keys={store.Count},expires={store.Expiring},avg_ttl=0\r\n"))));

        router.MapFallback((c, cmd) =>
        {
            // As Redis words it: the name cut at 128 bytes, then arguments while fewer than 128 bytes of them are
            // shown, each cut to what is left of the 128.
            var shown = new List<byte>();
            var words = cmd.GetEnumerator();
            words.MoveNext();
            while (shown.Count < 128 && words.MoveNext())
            {
                var word = Key(words.Current);
                shown.Add((byte)'\'');
                shown.AddRange(word[..Math.Min(word.Length, 128 - (shown.Count - 1))]);
                shown.AddRange("' "u8);
            }

            var name = Key(cmd.Name);
            Reply(c, RespReply.Error($"ERR unknown command '{Encoding.UTF8.GetString(name[..Math.Min(name.Length, 128)])}', with args beginning with: {Encoding.UTF8.GetString([.. shown])}"));
            return default;
        });
        return router;

        // FLUSHALL [ASYNC | SYNC]: anything else is a syntax error, and nothing is flushed.
        void Flush(Connection connection, RespCommand command)
        {
            if (command.Count == 1 || (command.Count == 2 && (Equals(command[1], "ASYNC"u8) || Equals(command[1], "SYNC"u8))))
            {
                store.Clear();
                Reply(connection, RespReply.Ok);
            }
            else
            {
                Reply(connection, s_syntax);
            }
        }

        void MapAsync(string name, int arity, Func<Connection, RespCommand, ValueTask> handler)
        {
            commandCount++;
            router.Map(name, (connection, command) =>
            {
                if (arity > 0 ? command.Count != arity : command.Count < -arity)
                {
                    Reply(connection, WrongArity(command));
                    return default;
                }

                return handler(connection, command);
            });
        }

        void Map(string name, int arity, Action<Connection, RespCommand> handler) => MapAsync(name, arity, (connection, command) =>
        {
            handler(connection, command);
            return default;
        });
    }

    private static void Reply(Connection connection, RespReply reply) => connection.WriteMessage(RespReplyWriter.Instance, reply);

    private static RespReply WrongArity(in RespCommand command) =>
        RespReply.Error($"ERR wrong number of arguments for '{Text(command.Name).ToLowerInvariant()}' command");

    // SET key value [NX | XX] [EX seconds | PX milliseconds]: as in Redis 7, an option may be repeated (the last EX or
    // PX counts) but not contradicted (NX with XX, EX with PX), and the expire time is checked once all are read.
    private static void Set(Connection connection, in RespCommand command, KeyValueStore store)
    {
        bool? condition = null;
        var scale = 0;      // 1000 for EX, 1 for PX, 0 for neither
        ReadOnlySequence<byte> expireWord = default;
        var words = command.GetEnumerator();
        words.MoveNext();
        words.MoveNext();
        var key = words.Current;
        words.MoveNext();
        var value = words.Current;
        while (words.MoveNext())
        {
            var option = words.Current;
            var xx = Equals(option, "XX"u8);
            var ex = Equals(option, "EX"u8);
            if ((xx || Equals(option, "NX"u8)) && condition != !xx)
            {
                condition = xx;
            }
            else if ((ex || Equals(option, "PX"u8)) && scale != (ex ? 1 : 1000) && words.MoveNext())
            {
                scale = ex ? 1000 : 1;
                expireWord = words.Current;
            }
            else
            {
                Reply(connection, s_syntax);
                return;
            }
        }

        long expiresAt = 0;
        if (scale != 0)
        {
            if (!TryParseInteger(expireWord, out var amount))
            {
                Reply(connection, s_notInteger);
                return;
            }

            if (amount <= 0 || amount > (long.MaxValue - Environment.TickCount64) / scale)   // the deadline must fit
            {
                Reply(connection, RespReply.Error("ERR invalid expire time in 'set' command"));
                return;
            }

            expiresAt = Environment.TickCount64 + (amount * scale);
        }

        Reply(connection, store.Set(Key(key), value, expiresAt, condition) ? RespReply.Ok : RespReply.Null);
    }

    private static void Increment(Connection connection, KeyValueStore store, in ReadOnlySequence<byte> key, long delta) =>
        Reply(connection, store.Increment(Key(key), delta, out var result) switch
        {
            IncrementResult.Done => RespReply.Number(result),
            IncrementResult.Overflow => RespReply.Error("ERR increment or decrement would overflow"),
            _ => s_notInteger,
        });

    private static long CountKeys(in RespCommand command, Func<ReadOnlySpan<byte>, bool> action)
    {
        var count = 0L;
        var words = command.GetEnumerator();
        words.MoveNext();
        while (words.MoveNext())
        {
            count += action(Key(words.Current)) ? 1 : 0;
        }

        return count;
    }

    // HELLO [protover [AUTH user pass] [SETNAME name]]: RESP2 only, so version 3 is refused as Redis 6 refuses it.
    private static void Hello(Connection connection, in RespCommand command)
    {
        if (command.Count > 1)
        {
            if (!TryParseInteger(command[1], out var version))
            {
                Reply(connection, RespReply.Error("ERR Protocol version is not an integer or out of range"));
                return;
            }

            if (version != 2)
            {
                Reply(connection, s_noProto);
                return;
            }
        }

        (string Name, object Value)[] fields =
        [
            ("server", "redis"), ("version", "7.0.0"), ("proto", 2L), ("id", connection.Id), ("mode", "standalone"), ("role", "master"),
        ];
        Reply(connection, RespReply.Array((fields.Length * 2) + 2));
        foreach (var (name, value) in fields)
        {
            Reply(connection, RespReply.Bulk(Encoding.ASCII.GetBytes(name)));
            Reply(connection, value is long number ? RespReply.Number(number) : RespReply.Bulk(Encoding.ASCII.GetBytes((string)value)));
        }

        Reply(connection, RespReply.Bulk("modules"u8.ToArray()));
        Reply(connection, s_emptyArray);
    }

    // CONFIG GET pattern [pattern ...]: the few settings clients ask about, matched as Redis matches them (glob).
    private static void Config(Connection connection, in RespCommand command)
    {
        if (!Equals(command[1], "GET"u8))
        {
            Reply(connection, RespReply.Error($"ERR unknown subcommand '{Text(command[1])}'. Try CONFIG HELP."));
            return;
        }

        if (command.Count < 3)
        {
            Reply(connection, RespReply.Error("ERR wrong number of arguments for 'config|get' command"));
            return;
        }

        var found = new List<(string Name, string Value)>();
        var words = command.GetEnumerator();
        words.MoveNext();
        words.MoveNext();
        while (words.MoveNext())
        {
            var pattern = Text(words.Current);
            found.AddRange(s_config.Where(setting => Glob(pattern, setting.Name) && !found.Contains(setting)));
        }

        Reply(connection, RespReply.Array(found.Count * 2));
        foreach (var (name, value) in found)
        {
            Reply(connection, RespReply.Bulk(Encoding.ASCII.GetBytes(name)));
            Reply(connection, RespReply.Bulk(Encoding.ASCII.GetBytes(value)));
        }
    }

    // '*' and '?', ignoring case, without recursion: on a mismatch, go back to just after the last '*' and let it take
    // one more character. Stars in a row count as one, so any pattern costs at most its length times the name's.
    private static bool Glob(ReadOnlySpan<char> pattern, ReadOnlySpan<char> name)
    {
        int p = 0, n = 0, star = -1, starAt = 0;
        while (n < name.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                star = ++p;
                starAt = n;
            }
            else if (p < pattern.Length && (pattern[p] == '?' || char.ToLowerInvariant(pattern[p]) == name[n]))
            {
                p++;
                n++;
            }
            else if (star >= 0)
            {
                p = star;
                n = ++starAt;
            }
            else
            {
                return false;
            }
        }

        return pattern[p..].TrimStart('*').IsEmpty;
    }

    /// <summary>A word as one span: the receive buffer itself unless the word lies across two of its segments.</summary>
    internal static ReadOnlySpan<byte> Key(in ReadOnlySequence<byte> word) => word.IsSingleSegment ? word.FirstSpan : word.ToArray();

    private static bool Equals(in ReadOnlySequence<byte> word, ReadOnlySpan<byte> upper) =>
        word.Length == upper.Length && Ascii.EqualsIgnoreCase(Key(word), upper);

    private static bool TryParseInteger(in ReadOnlySequence<byte> word, out long value) => RespCommandReader.TryParseInteger(Key(word), out value);

    private static string Text(in ReadOnlySequence<byte> word) => Encoding.UTF8.GetString(word);
}
