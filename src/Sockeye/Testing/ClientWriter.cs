using System.IO.Pipelines;
using Sockeye.Transport;

namespace Sockeye.Testing;

/// <summary>
/// The test's writer to the handler: it remembers whether the client ended its side and, on a <see cref="TestServer"/>'s
/// connection, tells the server what a socket would (bytes received, the client's end). Once the server has reset the
/// connection, a send fails as a socket's does (<see cref="ConnectionResetException"/>), and what it held goes nowhere.
/// </summary>
/// <param name="inner">The handler's input.</param>
/// <param name="fromServer">What the client reads: it knows whether the server reset the connection.</param>
/// <param name="connection">The <see cref="TestServer"/>'s connection, if it is one of those.</param>
internal sealed class ClientWriter(PipeWriter inner, InMemoryInput fromServer, InMemoryServerConnection? connection = null) : PipeWriter
{
    private volatile bool _completed;
    private long _unflushed;

    public bool IsCompleted => _completed;

    public override void Advance(int bytes)
    {
        inner.Advance(bytes);
        _unflushed += bytes;
    }

    public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        var sent = _unflushed;
        _unflushed = 0;
        if (fromServer.ResetError() is { } reset)
        {
            return ValueTask.FromException<FlushResult>(reset);
        }

        var flush = inner.FlushAsync(cancellationToken);
        connection?.ClientSent(sent);
        return flush;
    }

    public override void CancelPendingFlush() => inner.CancelPendingFlush();

    public override void Complete(Exception? exception = null)
    {
        _completed = true;

        // The server hears of the end before the handler can see it: a handler that returns at once would otherwise
        // close first, and the connection would end as ServerClosed instead of ClientClosed (TestServerTests, under load).
        connection?.ClientCompleted();
        inner.Complete(exception);
    }
}
