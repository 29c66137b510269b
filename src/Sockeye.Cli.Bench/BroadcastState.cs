using System.Diagnostics;

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
    private long _publishingStartedAt;
    private long _firstEndedAfter = long.MaxValue;
    private long _lastEndedAfter = -1;

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

    /// <summary>Seconds from the publishers' start to the first never-reading subscriber the server ended, or null.</summary>
    public double? FirstNonReaderEndedSeconds => ToSeconds(Volatile.Read(ref _firstEndedAfter));

    /// <summary>Seconds from the publishers' start to the last never-reading subscriber the server ended, or null.</summary>
    public double? LastNonReaderEndedSeconds => ToSeconds(Volatile.Read(ref _lastEndedAfter));

    /// <summary>
    /// Whether subscriber <paramref name="index"/> never reads: <see cref="NonReaders"/> of them, spread evenly
    /// among the rest.
    /// </summary>
    public bool IsNonReader(int index) =>
        NonReaders > 0 && (long)(index + 1) * NonReaders / Subscribers != (long)index * NonReaders / Subscribers;

    public void Register(int index, SubscriberConnection subscriber) => _subscribers[index] = subscriber;

    public void StartPublishers()
    {
        Volatile.Write(ref _publishingStartedAt, Stopwatch.GetTimestamp());
        Volatile.Write(ref _publishersMayStart, 1);
    }

    /// <summary>The server ended a never-reading subscriber: counted, and when (from the publishers' start) noted.</summary>
    public void NonReaderEnded()
    {
        Interlocked.Increment(ref _nonReadersEnded);
        var started = Volatile.Read(ref _publishingStartedAt);
        var after = started == 0 ? 0 : Stopwatch.GetTimestamp() - started;
        for (var first = Volatile.Read(ref _firstEndedAfter); after < first; first = Volatile.Read(ref _firstEndedAfter))
        {
            if (Interlocked.CompareExchange(ref _firstEndedAfter, after, first) == first)
            {
                break;
            }
        }

        for (var last = Volatile.Read(ref _lastEndedAfter); after > last; last = Volatile.Read(ref _lastEndedAfter))
        {
            if (Interlocked.CompareExchange(ref _lastEndedAfter, after, last) == last)
            {
                break;
            }
        }
    }

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

    /// <summary>
    /// Whether every reading subscriber still connected that has received less than <paramref name="below"/> messages
    /// of <paramref name="publisher"/> has received none of them: one the server may not have joined to its group yet.
    /// </summary>
    /// <remarks>
    /// A relay joins a client when its handler starts, which can come a while after the client's connect returned (the
    /// server accepts, then starts the handler on a loop that may be busy). One that joins after a publisher's first
    /// window went out never gets any of it, so the publisher, waiting for the window to reach it, would wait for ever.
    /// </remarks>
    public bool HeldBackOnlyByUnreached(int publisher, long below)
    {
        foreach (var subscriber in _subscribers)
        {
            if (subscriber is { Reads: true, IsFinished: false } && subscriber.Last(publisher) is var last && last >= 0 && last < below - 1)
            {
                return false;
            }
        }

        return true;
    }

    private static double? ToSeconds(long ticks) => ticks is >= 0 and < long.MaxValue ? (double)ticks / Stopwatch.Frequency : null;

    /// <summary>Subscriber and publisher pairs whose first message was not the publisher's first (subscribers the server registered late).</summary>
    public int LateJoins() => _subscribers.Sum(subscriber => subscriber?.LateJoins ?? 0);
}
