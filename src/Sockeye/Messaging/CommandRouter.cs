using System.Buffers;
using System.Text;

namespace Sockeye.Messaging;

/// <summary>
/// Routes each message by a command name carried in its bytes (RESP's or SMTP's verb, a text protocol's first word)
/// to the handler mapped to that name, or to a fallback. Names are found without a copy or a string: a message's name
/// is compared as bytes, optionally ignoring ASCII case.
/// </summary>
/// <typeparam name="TMessage">What the protocol's reader makes of a message.</typeparam>
/// <remarks>
/// Map every name before the first message arrives: the routes are frozen then, for lookups without locks. A message
/// whose name has no handler, when there is no fallback, ends its connection with
/// <see cref="ConnectionEndReason.ProtocolError"/>.
/// </remarks>
/// <example>
/// <code>
/// var router = new CommandRouter&lt;RespCommand&gt;(command => command.Name, ignoreCase: true)
///     .Map("PING", new PingCommand())
///     .Map("GET", new GetCommand(store))
///     .MapFallback(new UnknownCommand());
/// </code>
/// </example>
public sealed class CommandRouter<TMessage> : MessageHandler<TMessage>
{
    // Names longer than this are copied to the stack only if a mapped name is as long; longer ones match nothing.
    private const int StackNameLimit = 256;

    private readonly Func<TMessage, ReadOnlySequence<byte>> _name;
    private readonly NameComparer _comparer;
    private readonly Dictionary<byte[], MessageHandler<TMessage>> _routes;
    private Frozen? _frozen;
    private MessageHandler<TMessage>? _fallback;
    private int _longestName;

    /// <summary>Creates a router with no routes.</summary>
    /// <param name="name">Finds a message's command name: a slice of its bytes.</param>
    /// <param name="ignoreCase">Whether <c>get</c> finds the handler mapped to <c>GET</c> (ASCII letters only).</param>
    public CommandRouter(Func<TMessage, ReadOnlySequence<byte>> name, bool ignoreCase = false)
    {
        ArgumentNullException.ThrowIfNull(name);
        _name = name;
        _comparer = ignoreCase ? NameComparer.IgnoreCase : NameComparer.Exact;
        _routes = new Dictionary<byte[], MessageHandler<TMessage>>(_comparer);
    }

    /// <summary>Routes the messages named <paramref name="name"/> to <paramref name="handler"/>.</summary>
    /// <param name="name">The command name, as text: it is matched as its UTF-8 bytes.</param>
    /// <param name="handler">The handler of those messages.</param>
    /// <returns>This router.</returns>
    /// <exception cref="ArgumentException">The name has a handler already.</exception>
    /// <exception cref="InvalidOperationException">A message has been routed already.</exception>
    public CommandRouter<TMessage> Map(string name, MessageHandler<TMessage> handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(handler);
        Routes.ThrowIfFrozen(_frozen is not null);
        if (ReferenceEquals(_comparer, NameComparer.IgnoreCase) && !Ascii.IsValid(name))
        {
            throw new ArgumentException($"The command '{name}' is not ASCII, so its case cannot be ignored.", nameof(name));
        }

        var bytes = Encoding.UTF8.GetBytes(name);
        if (!_routes.TryAdd(bytes, handler))
        {
            throw new ArgumentException($"The command '{name}' has a handler already.", nameof(name));
        }

        _longestName = Math.Max(_longestName, bytes.Length);
        return this;
    }

    /// <summary>Routes the messages named <paramref name="name"/> to a delegate.</summary>
    /// <param name="name">The command name, as text: it is matched as its UTF-8 bytes.</param>
    /// <param name="handler">The code to run for each of those messages.</param>
    /// <returns>This router.</returns>
    /// <exception cref="ArgumentException">The name has a handler already.</exception>
    /// <exception cref="InvalidOperationException">A message has been routed already.</exception>
    public CommandRouter<TMessage> Map(string name, Func<Connection, TMessage, ValueTask> handler) => Map(name, MessageHandler.Create(handler));

    /// <summary>Routes the messages whose name has no handler to <paramref name="handler"/>, instead of ending their connection.</summary>
    /// <param name="handler">The handler of unknown names: it may reply with an error, or throw a <see cref="Framing.ProtocolException"/>.</param>
    /// <returns>This router.</returns>
    /// <exception cref="InvalidOperationException">A message has been routed already.</exception>
    public CommandRouter<TMessage> MapFallback(MessageHandler<TMessage> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Routes.ThrowIfFrozen(_frozen is not null);
        _fallback = handler;
        return this;
    }

    /// <summary>Routes the messages whose name has no handler to a delegate.</summary>
    /// <param name="handler">The code to run for each of those messages.</param>
    /// <returns>This router.</returns>
    /// <exception cref="InvalidOperationException">A message has been routed already.</exception>
    public CommandRouter<TMessage> MapFallback(Func<Connection, TMessage, ValueTask> handler) => MapFallback(MessageHandler.Create(handler));

    /// <inheritdoc />
    public override ValueTask OnMessageAsync(Connection connection, TMessage message)
    {
        var name = _name(message);
        MessageHandler<TMessage>? handler;
        if (name.IsSingleSegment)
        {
            handler = Find(name.FirstSpan);
        }
        else if (name.Length <= Math.Min(_longestName, StackNameLimit))
        {
            Span<byte> copy = stackalloc byte[StackNameLimit];
            name.CopyTo(copy);
            handler = Find(copy[..(int)name.Length]);
        }
        else
        {
            handler = null;
        }

        return handler is not null ? handler.OnMessageAsync(connection, message) : Routes.Unknown(_fallback, connection, message);
    }

    private MessageHandler<TMessage>? Find(ReadOnlySpan<byte> name)
    {
        var frozen = _frozen;
        if (frozen is null)
        {
            Interlocked.CompareExchange(ref _frozen, new Frozen(_routes), null);
            frozen = _frozen;
        }

        return frozen.Lookup.TryGetValue(name, out var handler) ? handler : null;
    }

    /// <summary>The routes once the first message has been routed: only read from then on, safe from any number of threads.</summary>
    private sealed class Frozen(Dictionary<byte[], MessageHandler<TMessage>> routes)
    {
        public readonly Dictionary<byte[], MessageHandler<TMessage>>.AlternateLookup<ReadOnlySpan<byte>> Lookup = routes.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    /// <summary>Names as bytes: exactly, or with ASCII letters folded to upper case.</summary>
    private sealed class NameComparer(bool ignoreCase) : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
    {
        public static readonly NameComparer Exact = new(ignoreCase: false);
        public static readonly NameComparer IgnoreCase = new(ignoreCase: true);

        public bool Equals(byte[]? x, byte[]? y) => x is not null && y is not null && Equals(x.AsSpan(), y);

        public int GetHashCode(byte[] obj) => GetHashCode(obj.AsSpan());

        public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) =>
            ignoreCase ? Ascii.EqualsIgnoreCase(alternate, other) : alternate.SequenceEqual(other);

        public int GetHashCode(ReadOnlySpan<byte> alternate)
        {
            if (!ignoreCase)
            {
                var exact = default(HashCode);
                exact.AddBytes(alternate);
                return exact.ToHashCode();
            }

            // FNV-1a over the bytes with a-z folded to A-Z: names are short, and this allocates nothing.
            var hash = 2166136261u;
            foreach (var b in alternate)
            {
                hash = (hash ^ (uint)(b is >= (byte)'a' and <= (byte)'z' ? b - 32 : b)) * 16777619u;
            }

            return (int)hash;
        }

        public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();
    }
}
