using System.Buffers;
using System.Collections;
using System.Diagnostics.CodeAnalysis;
using Sockeye.Framing;
using Sockeye.Messaging;

namespace Sockeye;

/// <summary>
/// A set of connections to broadcast to: a chat room, a game lobby, the subscribers of a topic. Thread-safe: connections
/// join and leave from any thread, during broadcasts too, and a connection leaves every group when it ends.
/// </summary>
/// <remarks>
/// <para>
/// A broadcast frames its message once, into one pooled buffer that every member's queue shares (nothing is copied or
/// allocated per member), and queues it for each member without waiting on any of them: a member that reads slowly
/// never holds up the others. Each member's queue is bounded by <see cref="SocketServerOptions.MaxOutboundQueueSize"/>
/// and follows <see cref="SocketServerOptions.OutboundQueuePolicy"/>, so a member that stops reading is disconnected once
/// its grace has passed (or misses messages, or makes the broadcast wait, as the policy says) while the rest go on; a
/// member that reads, but slower than the broadcasts come, slows the broadcasts' task to its pace instead.
/// </para>
/// <para>
/// A broadcast reads the members without a lock, so joins and leaves never wait for one: a connection that joins or
/// leaves while a broadcast is under way may or may not get that message; every other member gets it.
/// </para>
/// <para>
/// A group is an ordinary object: keep one per room in the application (a field, a dictionary of rooms, or a singleton in
/// dependency injection, <c>services.AddSingleton&lt;ConnectionGroup&gt;()</c>).
/// </para>
/// </remarks>
/// <example>
/// <code>
/// var room = new ConnectionGroup();
/// var framer = new LineFramer();
/// await using var server = new SocketServer(options, async connection =>
/// {
///     room.Add(connection);
///     await foreach (var line in connection.ReadMessagesAsync(framer))
///     {
///         await room.BroadcastMessageAsync(framer, line, except: connection);
///     }
/// });
/// </code>
/// </example>
[SuppressMessage("Naming", "CA1710:Identifiers should have correct suffix", Justification = "A group of connections is what users call it (a room, a lobby); it is not a general-purpose collection.")]
public sealed class ConnectionGroup : IReadOnlyCollection<Connection>
{
    // Members sit in slots reused through a free list, as the server's registry keeps connections: a broadcast walks the
    // array it read, and a join or leave takes the lock only for as long as it takes to fill or clear one slot.
    private readonly Lock _gate = new();
    private Connection?[] _slots = new Connection?[8];

    // For each slot, how many broadcasts had started when its member joined: a broadcast skips members that joined after
    // it started, so a connection that leaves and joins again (into a later slot) while a broadcast walks the slots is
    // never sent that message twice. Grown (and published) before _slots, so a broadcast that sees a slot sees its stamp.
    private long[] _joinedAt = new long[8];
    private long _broadcasts;
    private int[] _free = new int[8];
    private int _freeCount;
    private int _used;
    private int _count;

    /// <summary>The number of members now.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Adds <paramref name="connection"/> to the group. It leaves on its own when it ends.</summary>
    /// <param name="connection">A connection whose handler is running.</param>
    /// <returns>
    /// <see langword="true"/> if it joined; <see langword="false"/> if it was a member already, or has ended (its handler
    /// returned, or it was aborted), so it can never linger in the group.
    /// </returns>
    /// <exception cref="InvalidOperationException">The connection's handler has not started yet.</exception>
    public bool Add(Connection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var extras = connection.Extras;
        lock (extras)
        {
            if (!connection.IsServing && !connection.HasEnded)
            {
                throw new InvalidOperationException("The connection's handler has not started yet: a connection joins groups once its handler runs.");
            }

            if (connection.HasEnded || extras.InGroup(this))
            {
                return false;
            }

            extras.AddGroup(this, TakeSlot(connection));
            return true;
        }
    }

    /// <summary>Removes <paramref name="connection"/> from the group.</summary>
    /// <param name="connection">The connection.</param>
    /// <returns><see langword="true"/> if it was a member.</returns>
    public bool Remove(Connection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (connection.ExistingExtras is not { } extras)
        {
            return false;
        }

        lock (extras)
        {
            var slot = extras.RemoveGroup(this);
            if (slot < 0)
            {
                return false;
            }

            RemoveSlot(slot, connection);
            return true;
        }
    }

    /// <summary>Whether <paramref name="connection"/> is a member now.</summary>
    /// <param name="connection">The connection.</param>
    /// <returns><see langword="true"/> if it is.</returns>
    public bool Contains(Connection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (connection.ExistingExtras is not { } extras)
        {
            return false;
        }

        lock (extras)
        {
            return extras.InGroup(this);
        }
    }

    /// <summary>
    /// Sends <paramref name="message"/>, as it is, to every member but <paramref name="except"/>, as
    /// <see cref="Connection.SendAsync(ReadOnlyMemory{byte}, CancellationToken)"/> would to each.
    /// </summary>
    /// <param name="message">The bytes to send; copied once, before this returns, and shared by every member.</param>
    /// <param name="except">A member not to send to, such as the one the message came from.</param>
    /// <param name="cancellationToken">Cancels waits for room (<see cref="OutboundQueuePolicy.Wait"/>, or <see cref="OutboundQueuePolicy.Disconnect"/>'s grace).</param>
    /// <returns>
    /// How many members the message was queued for. It completes at once unless a member's queue is full under
    /// <see cref="OutboundQueuePolicy.Wait"/>, or <see cref="OutboundQueuePolicy.Disconnect"/> with a
    /// <see cref="SocketServerOptions.SlowReaderGrace"/>; then every other member has it queued already, and it completes
    /// once the waiting ones have room (or, under Disconnect, have been ended when the grace ran out).
    /// </returns>
    [SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = "The overloads differ in the message's type; each takes the same optional exception and token.")]
    public ValueTask<int> BroadcastAsync(ReadOnlyMemory<byte> message, Connection? except = null, CancellationToken cancellationToken = default) =>
        Broadcast(OutboundMessage.Copy(message.Span), except, cancellationToken);

    /// <summary>Sends <paramref name="message"/>, as it is, to every member but <paramref name="except"/>.</summary>
    /// <param name="message">The bytes to send, possibly in several segments; copied once, before this returns.</param>
    /// <param name="except">A member not to send to, such as the one the message came from.</param>
    /// <param name="cancellationToken">Cancels waits for room (<see cref="OutboundQueuePolicy.Wait"/>, or <see cref="OutboundQueuePolicy.Disconnect"/>'s grace).</param>
    /// <returns>How many members the message was queued for.</returns>
    [SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = "The overloads differ in the message's type; each takes the same optional exception and token.")]
    public ValueTask<int> BroadcastAsync(in ReadOnlySequence<byte> message, Connection? except = null, CancellationToken cancellationToken = default) =>
        Broadcast(OutboundMessage.Copy(message), except, cancellationToken);

    /// <summary>
    /// Sends <paramref name="message"/> as UTF-8, framed once by <paramref name="framer"/>, to every member but
    /// <paramref name="except"/>: a chat line, a notice.
    /// </summary>
    /// <param name="framer">The message format.</param>
    /// <param name="message">The text, without framing.</param>
    /// <param name="except">A member not to send to, such as the one the message came from.</param>
    /// <param name="cancellationToken">Cancels waits for room (<see cref="OutboundQueuePolicy.Wait"/>, or <see cref="OutboundQueuePolicy.Disconnect"/>'s grace).</param>
    /// <returns>How many members the message was queued for.</returns>
    /// <exception cref="ArgumentException">The message cannot be framed in this format.</exception>
    [SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = "The overloads differ in the message's type; each takes the same optional exception and token.")]
    public ValueTask<int> BroadcastMessageAsync(MessageFramer framer, string message, Connection? except = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(framer);
        ArgumentNullException.ThrowIfNull(message);
        return Broadcast(OutboundMessage.Frame(framer, message), except, cancellationToken);
    }

    /// <summary>
    /// Sends <paramref name="message"/>, framed once by <paramref name="framer"/>, to every member but <paramref name="except"/>.
    /// </summary>
    /// <param name="framer">The message format.</param>
    /// <param name="message">The message, without framing.</param>
    /// <param name="except">A member not to send to, such as the one the message came from.</param>
    /// <param name="cancellationToken">Cancels waits for room (<see cref="OutboundQueuePolicy.Wait"/>, or <see cref="OutboundQueuePolicy.Disconnect"/>'s grace).</param>
    /// <returns>How many members the message was queued for.</returns>
    /// <exception cref="ArgumentException">The message cannot be framed in this format.</exception>
    [SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = "The overloads differ in the message's type; each takes the same optional exception and token.")]
    public ValueTask<int> BroadcastMessageAsync(MessageFramer framer, ReadOnlySpan<byte> message, Connection? except = null, CancellationToken cancellationToken = default) =>
        Broadcast(OutboundMessage.Frame(framer, message), except, cancellationToken);

    /// <summary>
    /// Sends <paramref name="message"/>, written once by <paramref name="writer"/>, to every member but <paramref name="except"/>:
    /// a protocol's typed message, or with a framer, a message straight from <c>ReadMessagesAsync</c>.
    /// </summary>
    /// <typeparam name="TMessage">What a message is before it is written.</typeparam>
    /// <param name="writer">The protocol's writer, or a framer.</param>
    /// <param name="message">The message.</param>
    /// <param name="except">A member not to send to, such as the one the message came from.</param>
    /// <param name="cancellationToken">Cancels waits for room (<see cref="OutboundQueuePolicy.Wait"/>, or <see cref="OutboundQueuePolicy.Disconnect"/>'s grace).</param>
    /// <returns>How many members the message was queued for.</returns>
    /// <exception cref="ArgumentException">The message cannot be written in this format.</exception>
    [SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = "The overloads differ in the message's type; each takes the same optional exception and token.")]
    public ValueTask<int> BroadcastMessageAsync<TMessage>(IMessageWriter<TMessage> writer, TMessage message, Connection? except = null, CancellationToken cancellationToken = default) =>
        Broadcast(OutboundMessage.Frame(writer, message), except, cancellationToken);

    /// <summary>The members now. Reading takes no lock; a connection that joins or leaves meanwhile may or may not be seen.</summary>
    /// <returns>An enumerator over the members.</returns>
    public IEnumerator<Connection> GetEnumerator()
    {
        var slots = Volatile.Read(ref _slots);
        var used = Math.Min(Volatile.Read(ref _used), slots.Length);
        for (var i = 0; i < used; i++)
        {
            if (Volatile.Read(ref slots[i]) is { } member)
            {
                yield return member;
            }
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Clears the slot <paramref name="connection"/> held; the caller has removed the membership from the connection.</summary>
    internal void RemoveSlot(int slot, Connection connection)
    {
        lock (_gate)
        {
            if (!ReferenceEquals(_slots[slot], connection))
            {
                return;
            }

            Volatile.Write(ref _slots[slot], null);
            _free[_freeCount++] = slot;
            Volatile.Write(ref _count, _count - 1);
        }
    }

    private int TakeSlot(Connection connection)
    {
        lock (_gate)
        {
            int slot;
            if (_freeCount > 0)
            {
                slot = _free[--_freeCount];
            }
            else
            {
                slot = _used;
                if (slot == _slots.Length)
                {
                    // A broadcast under way keeps walking the array it read, which still holds every member it had.
                    var grown = new Connection?[_slots.Length * 2];
                    _slots.CopyTo(grown, 0);
                    var stamps = new long[grown.Length];
                    _joinedAt.CopyTo(stamps, 0);
                    Volatile.Write(ref _joinedAt, stamps);
                    Volatile.Write(ref _slots, grown);
                    Array.Resize(ref _free, grown.Length);
                }

                Volatile.Write(ref _used, slot + 1);
            }

            _joinedAt[slot] = Interlocked.Read(ref _broadcasts);
            Volatile.Write(ref _slots[slot], connection);
            Volatile.Write(ref _count, _count + 1);
            return slot;
        }
    }

    private ValueTask<int> Broadcast(OutboundMessage message, Connection? except, CancellationToken cancellationToken)
    {
        var started = Interlocked.Increment(ref _broadcasts);
        var slots = Volatile.Read(ref _slots);
        var joinedAt = Volatile.Read(ref _joinedAt);
        var used = Math.Min(Volatile.Read(ref _used), slots.Length);

        // One reference per slot, and the broadcast's own, set before the message is shared; the ones not used are given
        // back at the end in one step.
        message.SetReferences(used + 1);
        var unused = 1;
        var queued = 0;
        List<Task<SendStatus>>? waiting = null;
        for (var i = 0; i < used; i++)
        {
            var member = Volatile.Read(ref slots[i]);
            if (member is null || ReferenceEquals(member, except) || Volatile.Read(ref joinedAt[i]) >= started ||
                member.GetOutboundQueueForBroadcast() is not { } queue)
            {
                unused++;
                continue;
            }

            var sent = queue.Enqueue(message, cancellationToken);
            if (!sent.IsCompleted)
            {
                (waiting ??= []).Add(sent.AsTask());
            }
            else if (sent.IsCompletedSuccessfully && sent.Result == SendStatus.Queued)
            {
                queued++;
            }
        }

        message.Release(unused);
        return waiting is null ? new ValueTask<int>(queued) : WaitForRoomAsync(queued, waiting);
    }

    private static async ValueTask<int> WaitForRoomAsync(int queued, List<Task<SendStatus>> waiting)
    {
        foreach (var send in waiting)
        {
            if (await send.ConfigureAwait(false) == SendStatus.Queued)
            {
                queued++;
            }
        }

        return queued;
    }
}
