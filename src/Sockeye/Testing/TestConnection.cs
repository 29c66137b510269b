using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Sockeye.Messaging;
using Sockeye.Transport;

namespace Sockeye.Testing;

/// <summary>
/// A handler served over an in-memory connection pair, and the test's end of it: no socket, no port. Send to
/// the handler, read what it sends back, end the client's side, reset, or stop the server, then check how the
/// connection ended. The shutdown timeout runs on the <see cref="TimeProvider"/> given, so with a fake clock
/// (<c>FakeTimeProvider</c> from Microsoft.Extensions.TimeProvider.Testing) shutdown tests need no waiting.
/// </summary>
/// <remarks>
/// The client sees the connection end as a socket's client would. When the server closes it (the handler returned,
/// threw a <see cref="Framing.ProtocolException"/>, or ended after an error reply), the reads end with the end of the
/// stream: <see cref="ReceiveToEndAsync"/> returns. When the server resets it (the handler threw anything else, or the
/// connection was aborted: <see cref="Connection.Abort()"/>, a message too large, a timeout, the server's stop), the
/// reads return the bytes that reached the client before the reset, then every read throws
/// <see cref="ConnectionResetException"/>: an <see cref="IOException"/> whose inner exception is a
/// <see cref="System.Net.Sockets.SocketException"/> with <see cref="System.Net.Sockets.SocketError.ConnectionReset"/>, as
/// a <see cref="System.Net.Sockets.NetworkStream"/> throws, and whose message names the end reason. What the handler
/// had not flushed when it was reset, or writes after it, never arrives.
/// </remarks>
/// <example>
/// <code>
/// await using var test = TestConnection.Start(new UpperCaseHandler());
/// await test.SendAsync("hello");
/// await test.CompleteSendingAsync();
/// Assert.Equal("HELLO", Encoding.UTF8.GetString(await test.ReceiveToEndAsync()));   // a close, not a reset
/// await test.Completion;
/// Assert.Equal(ConnectionEndReason.ClientClosed, test.Connection.EndReason);
/// </code>
/// A handler that must fail, and be seen to:
/// <code>
/// await Assert.ThrowsAsync&lt;ConnectionResetException&gt;(() => test.ReceiveToEndAsync());
/// Assert.Equal(ConnectionEndReason.HandlerError, test.Connection.EndReason);
/// </code>
/// </example>
public sealed class TestConnection : IAsyncDisposable
{
    // One of two kinds: a connection of its own (Start), with the server's stop played here, or one of a TestServer's.
    private readonly InMemoryConnection? _connection;
    private readonly InMemoryServerConnection? _serverConnection;
    private readonly TestServer? _server;
    private readonly ClientWriter _output;
    private readonly CancellationTokenSource _serverDraining = new();
    private readonly TimeSpan _drainDelay;
    private readonly TimeSpan _shutdownTimeout;
    private readonly TimeProvider _timeProvider;
    private Exception? _handlerException;

    private TestConnection(ConnectionHandler handler, SocketServerOptions options, TimeProvider timeProvider)
    {
        _connection = new InMemoryConnection(
            maxMessageSize: options.MaxMessageSize,
            receiveBufferSize: options.EffectiveReceiveBufferSize,
            serverDraining: _serverDraining.Token,
            pushSettings: new PushSettings(options, metrics: null, logger: null, timeProvider));
        _output = new ClientWriter(_connection.Client.Output, _connection.ToClient);
        _drainDelay = options.DrainDelay;
        _shutdownTimeout = options.ShutdownTimeout;
        _timeProvider = timeProvider;
        Input = _connection.Client.Input;
        Completion = _connection.RunAsync(ConnectionHandler.Create(connection => ServeAsync(handler, connection)));
    }

    internal TestConnection(TestServer server, InMemoryServerConnection connection)
    {
        _server = server;
        _serverConnection = connection;
        _output = connection.ClientOutput;
        _timeProvider = TimeProvider.System;
        Input = connection.ClientInput;
        Completion = connection.Finished;
    }

    /// <summary>The connection as the handler sees it: its <see cref="Connection.EndReason"/> is final once <see cref="Completion"/> has completed.</summary>
    public Connection Connection => (Connection?)_connection ?? _serverConnection!;

    /// <summary>
    /// What the handler sends; read it here, or with <see cref="ReceiveAsync(int, CancellationToken)"/> and
    /// <see cref="ReceiveToEndAsync"/>. A read's result is completed at the end of the stream; after a reset, the bytes
    /// before it come in results that are not completed, and the read after them throws <see cref="ConnectionResetException"/>.
    /// </summary>
    public PipeReader Input { get; }

    /// <summary>What the client sends to the handler; completing it ends the client's side, as <see cref="CompleteSendingAsync"/> does.</summary>
    public PipeWriter Output => _output;

    /// <summary>
    /// Completes when the handler has returned and the connection has ended. It never faults: an exception from
    /// the handler ends the connection with <see cref="ConnectionEndReason.HandlerError"/> and a reset (a
    /// <see cref="Framing.ProtocolException"/>, the client's error, with its <see cref="Framing.ProtocolException.EndReason"/>
    /// and a close), and is kept in <see cref="HandlerException"/>.
    /// </summary>
    public Task Completion { get; }

    /// <summary>What the handler threw, if it did.</summary>
    public Exception? HandlerException => _serverConnection?.HandlerException ?? _handlerException;

    /// <summary>Starts <paramref name="handler"/> on a new in-memory connection.</summary>
    /// <param name="handler">The handler under test.</param>
    /// <param name="options">
    /// The server options the connection follows: <see cref="SocketServerOptions.MaxMessageSize"/>,
    /// <see cref="SocketServerOptions.DrainDelay"/> and <see cref="SocketServerOptions.ShutdownTimeout"/>. The defaults
    /// when <see langword="null"/>.
    /// </param>
    /// <param name="timeProvider">The clock for the drain delay and the shutdown timeout; the system clock when <see langword="null"/>.</param>
    /// <returns>The running test connection; dispose it to end the connection if the test has not.</returns>
    public static TestConnection Start(ConnectionHandler handler, SocketServerOptions? options = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return new TestConnection(handler, options ?? new SocketServerOptions(), timeProvider ?? TimeProvider.System);
    }

    /// <summary>Sends <paramref name="data"/> to the handler.</summary>
    /// <param name="data">The bytes to send.</param>
    /// <param name="cancellationToken">Cancels the wait while the handler is not reading.</param>
    /// <returns>
    /// A task that completes once the bytes are in the handler's input. After the handler has stopped reading, they go
    /// nowhere, as a socket's send after the server's close succeeds.
    /// </returns>
    /// <exception cref="ConnectionResetException">The server reset the connection, as a socket's send fails once the reset is in.</exception>
    public async Task SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
        await _output.WriteAsync(data, cancellationToken).ConfigureAwait(false);

    /// <summary>Sends <paramref name="text"/> to the handler as UTF-8.</summary>
    /// <param name="text">The text to send.</param>
    /// <returns>A task that completes once the bytes are in the handler's input.</returns>
    /// <exception cref="ConnectionResetException">The server reset the connection, as a socket's send fails once the reset is in.</exception>
    public Task SendAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text));

    /// <summary>Ends the client's sending side (a FIN): the handler reads to the end of its input, and may still reply.</summary>
    /// <returns>A task that completes once the end is signalled.</returns>
    public async Task CompleteSendingAsync() => await _output.CompleteAsync().ConfigureAwait(false);

    /// <summary>Reads exactly <paramref name="count"/> bytes from what the handler sent.</summary>
    /// <param name="count">How many bytes to read.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The bytes.</returns>
    /// <exception cref="EndOfStreamException">The handler's side ended before <paramref name="count"/> bytes arrived.</exception>
    /// <exception cref="ConnectionResetException">
    /// The server reset the connection before <paramref name="count"/> bytes arrived (the bytes this call read are lost
    /// with it: ask for fewer to check them).
    /// </exception>
    public async Task<byte[]> ReceiveAsync(int count, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var received = new ArrayBufferWriter<byte>(Math.Max(count, 1));
        var ended = await CopyReceivedAsync(received, count, cancellationToken).ConfigureAwait(false);
        if (ended && received.WrittenCount < count)
        {
            throw new EndOfStreamException($"The handler's side ended after {received.WrittenCount} of {count} bytes.");
        }

        return received.WrittenSpan.ToArray();
    }

    /// <summary>Reads everything the handler sends until the server closes the connection.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The bytes.</returns>
    /// <exception cref="ConnectionResetException">
    /// The server reset the connection instead: the handler threw, or the connection was aborted (its
    /// <see cref="Connection.EndReason"/> says why, as does the message).
    /// </exception>
    public async Task<byte[]> ReceiveToEndAsync(CancellationToken cancellationToken = default)
    {
        var received = new ArrayBufferWriter<byte>();
        await CopyReceivedAsync(received, int.MaxValue, cancellationToken).ConfigureAwait(false);
        return received.WrittenSpan.ToArray();
    }

    /// <summary>
    /// The client resets the connection: the handler's next read throws <see cref="ConnectionResetException"/>,
    /// its writes go nowhere, and <see cref="Connection.ConnectionClosed"/> is canceled.
    /// </summary>
    public void Reset()
    {
        if (_serverConnection is not null)
        {
            _serverConnection.ClientReset();
        }
        else
        {
            _connection!.Reset();
        }
    }

    /// <summary>
    /// Stops the server as <see cref="SocketServer.StopAsync"/> does: cancels <see cref="Connection.ServerDraining"/>,
    /// waits <see cref="SocketServerOptions.DrainDelay"/> on the clock, cancels <see cref="Connection.CloseRequested"/>,
    /// lets the handler finish for up to <see cref="SocketServerOptions.ShutdownTimeout"/>, then aborts the connection
    /// with <see cref="ConnectionEndReason.ServerShutdown"/>.
    /// </summary>
    /// <returns>A task that completes when the handler has returned.</returns>
    /// <remarks>On a <see cref="TestServer"/>'s connection, this stops that server, as <see cref="TestServer.StopAsync"/> does.</remarks>
    public async Task StopServerAsync()
    {
        if (_server is not null)
        {
            await _server.StopAsync().ConfigureAwait(false);
            await Completion.ConfigureAwait(false);
            return;
        }

        // Callbacks registered by the handler run on the thread pool, as a server runs them, not inside this call.
        _ = _serverDraining.CancelAsync();
        if (_drainDelay > TimeSpan.Zero)
        {
            await Task.Delay(_drainDelay, _timeProvider).ConfigureAwait(false);
        }

        _connection!.RequestClose();
        try
        {
            await Completion.WaitAsync(_shutdownTimeout, _timeProvider).ConfigureAwait(false);
            return;
        }
        catch (TimeoutException)
        {
            // The handler did not finish in time: abort it, as the server would.
        }

        _connection!.Abort(ConnectionEndReason.ServerShutdown);
        await Completion.ConfigureAwait(false);
    }

    /// <summary>If the handler is still running, the client goes away (a reset); then waits for the handler to return.</summary>
    /// <returns>A task that completes when the handler has returned.</returns>
    public async ValueTask DisposeAsync()
    {
        if (!Completion.IsCompleted)
        {
            Reset();
        }

        await Completion.ConfigureAwait(false);
        _serverDraining.Dispose();
    }

    private async Task ServeAsync(ConnectionHandler handler, Connection connection)
    {
        try
        {
            await handler.OnConnectedAsync(connection).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _handlerException = ex;
            throw;
        }

        // As over a socket: when the client had ended its side before the handler returned, the client closed.
        if (_output.IsCompleted)
        {
            connection.TrySetEndReason(ConnectionEndReason.ClientClosed);
        }
    }

    /// <summary>Copies from <see cref="Input"/>, consuming as it goes so the handler is never held up; true at the end of the stream.</summary>
    private async Task<bool> CopyReceivedAsync(ArrayBufferWriter<byte> destination, int count, CancellationToken cancellationToken)
    {
        var input = Input;
        while (destination.WrittenCount < count)
        {
            var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            var take = buffer.Slice(0, Math.Min(buffer.Length, count - destination.WrittenCount));
            foreach (var segment in take)
            {
                destination.Write(segment.Span);
            }

            input.AdvanceTo(take.End);
            if (result.IsCompleted && take.Length == buffer.Length)
            {
                return true;
            }
        }

        return false;
    }
}
