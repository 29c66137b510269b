using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;

namespace Sockeye.Tests.Framing;

/// <summary>A connection over a given input that records the message hooks the framing layer calls, in order.</summary>
internal sealed class RecordingConnection : Connection, IDuplexPipe
{
    private readonly ConcurrentQueue<string> _events = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _firsts = new();
    private readonly long _maxMessageSize;

    public RecordingConnection(PipeReader input, long maxMessageSize = 1024 * 1024)
        : base(1, new IPEndPoint(IPAddress.Loopback, 50000))
    {
        Input = input;
        _maxMessageSize = maxMessageSize;
        Transport = this;
    }

    /// <summary>"started", "received", "sent" and "aborted", as they happened.</summary>
    public IReadOnlyList<string> Events => [.. _events];

    public Pipe Sent { get; } = new(new PipeOptions(useSynchronizationContext: false));

    public PipeReader Input { get; }

    public PipeWriter Output => Sent.Writer;

    private protected override long MaxMessageSizeCore => _maxMessageSize;

    public override long BytesReceived => 0;

    public override long BytesSent => 0;

    /// <summary>Waits until <paramref name="name"/> has been recorded.</summary>
    public Task WaitForAsync(string name) => First(name).Task.WaitAsync(TestContext.Current.CancellationToken);

    internal override void OnMessageStarted() => Record("started");

    internal override void OnMessageReceived() => Record("received");

    internal override void OnMessageSent() => Record("sent");

    private protected override void AbortCore() => Record("aborted");

    private void Record(string name)
    {
        _events.Enqueue(name);
        First(name).TrySetResult();
    }

    private TaskCompletionSource First(string name) =>
        _firsts.GetOrAdd(name, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
}
