using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using Sockeye.Messaging;
using Sockeye.Protocols;
using Sockeye.Testing;
using Sockeye.Tests.Infrastructure;
using TestServer = Sockeye.Tests.Infrastructure.TestServer;
using Sockeye.Tests.Protocols;

namespace Sockeye.Tests.Messaging;

/// <summary>Every kind of output a handler can see as <c>Transport.Output</c>.</summary>
public enum OutputKind
{
    /// <summary>A loopback socket on the default transport (epoll on Linux): the connection's own output.</summary>
    Socket,

    /// <summary>A loopback socket with TLS: the TLS layer's pipe.</summary>
    Tls,

    /// <summary>The testing kit's in-memory connection.</summary>
    InMemory,

    /// <summary>A pipe's writer behind the guard, as the portable transport gives a handler.</summary>
    Pipe,
}

/// <summary>
/// A connection whose handler waits while the test writes to (or reads from) its transport from the test's own threads,
/// and the client's end of it as a stream. Disposing lets the handler return.
/// </summary>
internal sealed class OutputHarness : IAsyncDisposable
{
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TestServer? _server;
    private Socket? _socket;
    private SslStream? _ssl;
    private TestConnection? _test;
    private Pipe? _pipe;
    private GuardedPipeWriter? _pipeOutput;

    private OutputHarness()
    {
    }

    /// <summary>The handler's connection; null for <see cref="OutputKind.Pipe"/>.</summary>
    public Connection? Connection { get; private set; }

    public PipeWriter Output => (PipeWriter?)_pipeOutput ?? Connection!.Transport.Output;

    public PipeReader Input => Connection!.Transport.Input;

    /// <summary>The client's end: what it reads is what the handler's side wrote.</summary>
    public Stream Client { get; private set; } = Stream.Null;

    public TestServer? Server => _server;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public static async Task<OutputHarness> StartAsync(OutputKind kind, Action<SocketServerOptions>? configure = null)
    {
        var harness = new OutputHarness();
        var accepted = new TaskCompletionSource<Connection>(TaskCreationOptions.RunContinuationsAsynchronously);
        var handler = ConnectionHandler.Create(async connection =>
        {
            accepted.TrySetResult(connection);
            await harness._release.Task;
        });

        switch (kind)
        {
            case OutputKind.Socket:
                harness._server = await TestServer.StartAsync(handler, configure);
                harness._socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 8192 };
                await harness._socket.ConnectAsync(harness._server.EndPoint, Token);
                harness.Client = new NetworkStream(harness._socket, ownsSocket: false);
                break;
            case OutputKind.Tls:
                harness._server = await TestServer.StartAsync(handler, options =>
                {
                    options.Listeners[0].Tls = new TlsOptions(TestCertificates.Server);
                    configure?.Invoke(options);
                });
                harness._socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 8192 };
                await harness._socket.ConnectAsync(harness._server.EndPoint, Token);
                harness._ssl = new SslStream(new NetworkStream(harness._socket, ownsSocket: false));
                await harness._ssl.AuthenticateAsClientAsync(
                    new SslClientAuthenticationOptions { TargetHost = "localhost", RemoteCertificateValidationCallback = TlsClient.IsTestServer }, Token);
                harness.Client = harness._ssl;
                break;
            case OutputKind.InMemory:
                var options = new SocketServerOptions();
                configure?.Invoke(options);
                harness._test = TestConnection.Start(handler, options);
                harness.Client = new DuplexStream(harness._test.Input.AsStream(), harness._test.Output.AsStream());
                break;
            default:
                harness._pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 64 * 1024, resumeWriterThreshold: 32 * 1024, useSynchronizationContext: false));
                harness._pipeOutput = new GuardedPipeWriter(harness._pipe.Writer);
                harness.Client = harness._pipe.Reader.AsStream();
                return harness;
        }

        harness.Connection = await accepted.Task.WithTestTimeout();
        return harness;
    }

    /// <summary>Lets the handler return (or completes the bare pipe), then reads what the client gets until the end.</summary>
    public async Task<byte[]> FinishAndReadToEndAsync()
    {
        var reading = ReadToEndAsync();
        Finish();
        return await reading.WithTestTimeout();
    }

    /// <summary>Reads until the end of what the handler's side sends.</summary>
    public async Task<byte[]> ReadToEndAsync()
    {
        using var received = new MemoryStream();
        await Client.CopyToAsync(received, Token);
        return received.ToArray();
    }

    /// <summary>Lets the handler return; for the bare pipe, completes its writer.</summary>
    public void Finish()
    {
        _release.TrySetResult();
        _pipeOutput?.Complete();
    }

    public async ValueTask DisposeAsync()
    {
        Finish();
        if (_test is not null)
        {
            await _test.DisposeAsync();
        }

        if (_ssl is not null)
        {
            await _ssl.DisposeAsync();
        }

        _socket?.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    /// <summary>A stream that reads from one stream and writes to another: the in-memory client's two pipes as one.</summary>
    private sealed class DuplexStream(Stream input, Stream output) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => output.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => output.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => input.Read(buffer, offset, count);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => input.ReadAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            input.ReadAsync(buffer, offset, count, cancellationToken);

        public override void Write(byte[] buffer, int offset, int count) => output.Write(buffer, offset, count);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => output.WriteAsync(buffer, cancellationToken);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            output.WriteAsync(buffer, offset, count, cancellationToken);

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
