using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Sockeye.Messaging;
using Sockeye.Transport;

namespace Sockeye.Testing;

/// <summary>
/// A connection of a real <see cref="SocketServer"/> whose socket is a pair of pipes: what <see cref="TestServer"/> gives
/// a test. The server's lifetime, registry, limits, timeouts, metrics and logs apply to it as to a socket. The handler
/// reads the transports' own input, bounded by the server's receive buffer size, and a client that sends faster than
/// the handler reads waits, as over TCP; the client's receive window is a bounded pipe, so a client that does not read
/// pushes back on the handler (and, past the write timeout, is ended as <see cref="ConnectionEndReason.SlowReader"/>).
/// </summary>
internal sealed class InMemoryServerConnection : TransportConnection, IDuplexPipe
{
    // What the client has not read yet, before a send has to wait: a socket's buffers, roughly.
    private const long ClientWindow = 64 * 1024;

    private readonly InMemoryInput _input;
    private readonly Pipe _output;
    private readonly Pipe _toClient;
    private readonly GuardedPipeWriter _handlerOutput;
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _sending;

    public InMemoryServerConnection(long id, EndPoint remoteEndPoint, ConnectionDelegate pipeline, ServerContext context)
        : base(id, remoteEndPoint, pipeline, context)
    {
        _input = new InMemoryInput(context.InputSettings);
        _output = new Pipe(context.OutputPipeOptions);
        _toClient = new Pipe(new PipeOptions(
            pauseWriterThreshold: ClientWindow, resumeWriterThreshold: ClientWindow / 2, useSynchronizationContext: false));
        _handlerOutput = new GuardedPipeWriter(_output.Writer);
        LocalEndPoint = new IPEndPoint(IPAddress.Loopback, 11000);
        Transport = this;
        ClientInput = _toClient.Reader;
        ClientOutput = new ClientWriter(_input.Writer, this);
    }

    /// <summary>What the client reads: everything the server sent.</summary>
    public PipeReader ClientInput { get; }

    /// <summary>What the client writes to the server.</summary>
    public ClientWriter ClientOutput { get; }

    /// <summary>Completes once the connection has ended and the server has let go of it.</summary>
    public Task Finished => _finished.Task;

    /// <summary>What the handler threw, if it did.</summary>
    public Exception? HandlerException { get; set; }

    PipeReader IDuplexPipe.Input => _input.Reader;

    PipeWriter IDuplexPipe.Output => _handlerOutput;

    internal override bool IsReceivePaused => _input.Reader.IsPaused;

    // Nothing to linger for: no kernel here would answer unread bytes with a reset.
    protected override Task ReceivingEnded => Task.CompletedTask;

    /// <summary>The client resets the connection: the handler's next read fails, and what it writes goes nowhere.</summary>
    public void ClientReset()
    {
        if (!TrySetEndReason(ConnectionEndReason.ConnectionReset))
        {
            return;
        }

        _input.Writer.Complete(new ConnectionResetException("The client reset the connection."));
        _toClient.Reader.Complete();
        FireConnectionClosed();
    }

    /// <summary>The client wrote <paramref name="count"/> bytes to the server.</summary>
    public void ClientSent(long count)
    {
        AddBytesReceived(count);
        ReceivedBytesVisible();
    }

    /// <summary>The client ended its side (a FIN).</summary>
    public void ClientCompleted() => MarkFinReceived();

    protected override void StartTransport() => _sending = SendLoopAsync();

    protected override async ValueTask CompleteApplicationPipesAsync()
    {
        await _handlerOutput.CompleteAsync().ConfigureAwait(false);
        await _input.Reader.CompleteAsync().ConfigureAwait(false);
    }

    protected override Task FinishSendingAsync() => _sending ?? Task.CompletedTask;

    protected override bool HasBytesWaiting() => false;

    protected override Task CloseTransportAsync() => Task.CompletedTask;

    // Never lingers: receiving has always ended.
    protected override void StopLingering()
    {
    }

    protected override void AbortTransport()
    {
        // Wake whatever waits: the handler's read, the send loop on either side. The client sees the end of the stream.
        _input.Reader.CancelPendingRead();
        _output.Reader.CancelPendingRead();
        _toClient.Writer.CancelPendingFlush();
    }

    private protected override void OnFinished() => _finished.TrySetResult();

    /// <summary>Moves what the handler flushed to the client, a send at a time, waiting (and timed) while the client does not read.</summary>
    private async Task SendLoopAsync()
    {
        var reader = _output.Reader;
        var toClient = _toClient.Writer;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                if (result.IsCanceled || IsAborted)
                {
                    break;
                }

                var buffer = result.Buffer;
                var clientGone = false;
                if (!buffer.IsEmpty)
                {
                    foreach (var segment in buffer)
                    {
                        toClient.Write(segment.Span);
                    }

                    BeginSend();
                    var flushed = await toClient.FlushAsync().ConfigureAwait(false);
                    EndSend();
                    if (flushed.IsCanceled || IsAborted)
                    {
                        break;
                    }

                    AddBytesSent(buffer.Length);
                    clientGone = flushed.IsCompleted;
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted || clientGone)
                {
                    break;
                }
            }
        }
        catch (InvalidOperationException)
        {
            // The client's end was completed under the send (a reset): nothing more goes out.
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
            await toClient.CompleteAsync().ConfigureAwait(false);
        }
    }
}
