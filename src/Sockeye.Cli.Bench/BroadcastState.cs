namespace Sockeye.Cli.Bench;

/// <summary>
/// What the publishers and subscribers of one broadcast run share: each publisher's count of messages, each reading
/// subscriber's place in every publisher's stream, and the window that keeps publishers from running ahead of the
/// slowest reading subscriber.
/// </summary>
/// <remarks>
/// A relay that is sent faster than it can deliver queues without end (or drops, or disconnects, as its policy says),
/// and a rate measured that way says nothing. So each publisher keeps at most <c>window</c> messages beyond what every
/// reading subscriber has received, as echo keeps <c>depth</c> messages in flight; subscribers that never read are left
/// out of the window (the server must cope with them on its own). Each subscriber's place is written by its loop's
/// thread only and read by the publishers'.
/// </remarks>
internal sealed class BroadcastState
{
    private readonly long[] _published;
    private readonly SubscriberConnection?[] _subscribers;
    private int _publishersMayStart;
    private int _nonReadersEnded;

    public BroadcastState(int publishers, int subscribers, double nonReaderFraction, int window)
    {
        Publishers = publishers;
        Subscribers = subscribers;
        Window = window;
        _published = new long[publishers];
        _subscribers = new SubscriberConnection?[subscribers];
        NonReaders = (int)Math.Round(subscribers * nonReaderFraction);
    }

    public int Publishers { get; }

    public int Subscribers { get; }

    /// <summary>Subscribers that connect and never read: the slow consumers the server must end or bound.</summary>
    public int NonReaders { get; }

    /// <summary>Messages a publisher may have beyond what every reading subscriber has received.</summary>
    public int Window { get; }

    /// <summary>Set once every subscriber has connected: publishers connect and start then.</summary>
    public bool PublishersMayStart => Volatile.Read(ref _publishersMayStart) != 0;

    /// <summary>Subscribers that never read and that the server ended.</summary>
    public int NonReadersEnded => Volatile.Read(ref _nonReadersEnded);

    /// <summary>
    /// Whether subscriber <paramref name="index"/> never reads: <see cref="NonReaders"/> of them, spread evenly
    /// among the rest.
    /// </summary>
    public bool IsNonReader(int index) =>
        NonReaders > 0 && (long)(index + 1) * NonReaders / Subscribers != (long)index * NonReaders / Subscribers;

    public void Register(int index, SubscriberConnection subscriber) => _subscribers[index] = subscriber;

    public void StartPublishers() => Volatile.Write(ref _publishersMayStart, 1);

    public void NonReaderEnded() => Interlocked.Increment(ref _nonReadersEnded);

    /// <summary>How many messages <paramref name="publisher"/> has queued so far (numbered from 0).</summary>
    public long Published(int publisher) => Volatile.Read(ref _published[publisher]);

    public void SetPublished(int publisher, long count) => Volatile.Write(ref _published[publisher], count);

    /// <summary>
    /// The highest sequence number of <paramref name="publisher"/> that every reading subscriber still connected has
    /// received (-1 if one has received none yet).
    /// </summary>
    public long DeliveredToAll(int publisher)
    {
        var lowest = Published(publisher) - 1;
        foreach (var subscriber in _subscribers)
        {
            if (subscriber is { Reads: true, IsFinished: false } && subscriber.Last(publisher) is var last && last < lowest)
            {
                lowest = last;
            }
        }

        return lowest;
    }

    /// <summary>Subscriber and publisher pairs whose first message was not the publisher's first (subscribers the server registered late).</summary>
    public int LateJoins() => _subscribers.Sum(subscriber => subscriber?.LateJoins ?? 0);
}
