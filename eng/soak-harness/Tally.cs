using System.Collections.Concurrent;

namespace Sockeye.Soak;

/// <summary>What one round's clients saw, by kind of client.</summary>
internal sealed class Tally
{
    private readonly ConcurrentDictionary<string, long> _counts = new();
    private readonly ConcurrentQueue<string> _failures = new();

    /// <summary>Counts an event: <c>bulk.intact</c>, <c>slowloris.ended</c>, ...</summary>
    public void Add(string name, long count = 1) => _counts.AddOrUpdate(name, count, (_, n) => n + count);

    /// <summary>A broken promise: a corrupt exchange, a healthy client ended, a hostile client never ended.</summary>
    public void Fail(string what)
    {
        Add("failures");
        if (_failures.Count < 20)
        {
            _failures.Enqueue(what);
        }
    }

    public long this[string name] => _counts.GetValueOrDefault(name);

    public IEnumerable<string> Failures => _failures;

    public string Summary() => string.Join(" ", _counts.OrderBy(pair => pair.Key, StringComparer.Ordinal).Select(pair => $"{pair.Key}={pair.Value}"));
}
