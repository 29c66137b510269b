using System.IO.Pipelines;
using System.Net.Security;
using Sockeye.Diagnostics;
using Sockeye.Messaging;
using Sockeye.Transport;

namespace Sockeye.Protocols;

/// <summary>
/// The handler's side of a TLS connection: two pipes of plain bytes, and two loops that decrypt what arrives into one
/// and encrypt what the handler writes from the other. The pipes have the same bounds as the connection's own; the
/// input, as the connection's own, counts what the handler holds whether it examined it or not.
/// </summary>
internal sealed class TlsTransport : IDuplexPipe
{
    private readonly Connection _connection;
    private readonly SslStream _ssl;
    private readonly IDuplexPipe _raw;
    private readonly ServerContext _context;
    private readonly InputGate _gate;
    private readonly ConnectionInput _input;
    private readonly Pipe _output;
    private readonly GuardedPipeWriter _handlerOutput;
    private readonly Task _reading;
    private readonly Task _writing;
    private int _completing;

    public TlsTransport(Connection connection, SslStream ssl, IDuplexPipe raw, ServerContext context)
    {
        _connection = connection;
        _ssl = ssl;
        _raw = raw;
        _context = context;
        _gate = new InputGate(context.InputSettings);
        _input = _gate.Input;
        _output = new Pipe(context.OutputPipeOptions);
        _handlerOutput = new GuardedPipeWriter(_output.Writer);
        _reading = ReadLoopAsync();
        _writing = WriteLoopAsync();
    }

    /// <summary>What the handshake settled, for <see cref="Connection.Tls"/>.</summary>
    public TlsConnectionInfo? Info { get; init; }

    public PipeReader Input => _input;

    /// <summary>Decrypting has stopped because the handler holds the receive buffer's worth of plaintext.</summary>
    internal bool IsInputPaused => _input.IsPaused;

    public PipeWriter Output => _handlerOutput;

    /// <summary>
    /// The handler is done: sends what it wrote, then close_notify, and stops decrypting. The connection completes the
    /// raw pipes afterwards (FIN, then the lingering drain).
    /// </summary>
    /// <param name="handlerError">
    /// Why the handler failed, if it did. Then no close_notify is sent: it would tell the client that what it received
    /// is complete, and the connection is about to be reset to tell it the opposite. A client's protocol error is not
    /// one: the handler ended the connection on purpose, and it closes as after a return.
    /// </param>
    public async Task CompleteAsync(Exception? handlerError)
    {
        await _input.CompleteAsync().ConfigureAwait(false);
        await _handlerOutput.CompleteAsync(handlerError).ConfigureAwait(false);
        await _writing.ConfigureAwait(false);

        // The read loop may be waiting for the client; wake it. Whatever it was in the middle of no longer matters.
        Volatile.Write(ref _completing, 1);
        _gate.Close();
        _raw.Input.CancelPendingRead();
        await _reading.ConfigureAwait(false);
    }

    private async Task ReadLoopAsync()
    {
        Exception? error = null;
        try
        {
            while (!_input.IsReaderCompleted)
            {
                // Zero bytes back: close_notify, or the client's FIN, or the cancellation that CompleteAsync sends.
                var buffer = _input.GetReceiveMemory(PinnedBlockMemoryPool.BlockSize);
                var read = await _ssl.ReadAsync(buffer).ConfigureAwait(false);
                if (read == 0)
                {
                    _input.Abandon();
                    if (Volatile.Read(ref _completing) == 0)
                    {
                        _connection.OnClientEndedStream();
                    }

                    break;
                }

                // Backpressure: while the handler holds the receive buffer's worth, this waits until it consumes half.
                if (!await _gate.CommitAsync(read).ConfigureAwait(false))
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (Volatile.Read(ref _completing) == 0)
        {
            error = ex;
            if (_connection.EndReason == ConnectionEndReason.None)
            {
                // Not a reset or an abort (those record their reason first): the client broke the TLS stream itself.
                Log.TlsStreamFailed(_context.ConnectionLogger, _connection.Id, ex.Message);
                _connection.Abort(ConnectionEndReason.ProtocolError);
            }
        }
        catch (Exception)
        {
            // Interrupted on purpose by CompleteAsync: the handler has stopped reading.
        }
        finally
        {
            _input.CompleteWriter(error);
        }
    }

    private async Task WriteLoopAsync()
    {
        var reader = _output.Reader;
        Exception? error = null;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                foreach (var segment in buffer)
                {
                    await _ssl.WriteAsync(segment).ConfigureAwait(false);
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    break;
                }
            }

            // close_notify: the client can tell that the stream ended on purpose and was not cut short.
            await _ssl.ShutdownAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The connection under TLS failed (reset or aborted, its reason already recorded); the handler's next
            // flush reports it.
            error = ex;
        }
        finally
        {
            await reader.CompleteAsync(error).ConfigureAwait(false);
        }
    }
}
