using System.Buffers;
using System.IO.Pipelines;
using Sockeye.Diagnostics;
using Sockeye.Transport;

namespace Sockeye.Protocols;

/// <summary>
/// The first layer of a listener that takes the PROXY protocol: refuses untrusted peers, reads the header within its
/// deadline, puts the original client into <see cref="Connection.RemoteEndPoint"/>, and leaves every byte after the
/// header in <see cref="Connection.Transport"/> for the next step.
/// </summary>
internal sealed class ProxyProtocolLayer(ProxyProtocolOptions options, ServerContext context)
{
    public ConnectionDelegate Wrap(ConnectionDelegate next) => connection => RunAsync(connection, next);

    private async Task RunAsync(Connection connection, ConnectionDelegate next)
    {
        var logger = context.ConnectionLogger;
        var proxy = connection.RemoteEndPoint;
        if (proxy is null)
        {
            // No peer address: the client was gone before its address was read (an HAProxy health check sends a LOCAL
            // header and resets). Nothing to trust or refuse, and no untrusted proxy to report: a reset, at Debug.
            connection.Abort(ConnectionEndReason.ConnectionReset);
            return;
        }

        if (!options.IsTrusted(proxy))
        {
            Log.UntrustedProxy(logger, connection.Id, proxy);
            context.Metrics.ConnectionRejected(ConnectionEndReason.UntrustedProxy);
            connection.Abort(ConnectionEndReason.UntrustedProxy);
            return;
        }

        if (await ReadHeaderAsync(connection).ConfigureAwait(false) is not { } header)
        {
            return;
        }

        if (header.Source is not null)
        {
            connection.RemoteEndPoint = header.Source;
            connection.LocalEndPoint = header.Destination;
            Log.ProxiedClient(logger, connection.Id, proxy, header.Source);
        }

        // A proxy's health check connects, maybe sends the header, and closes: it is not a client, so it must not
        // reach the handler, which would report or answer it. One that sends data (a scripted check) does.
        if (header.IsLocal && !await SendsDataAsync(connection).ConfigureAwait(false))
        {
            Log.ProxyHealthCheck(logger, connection.Id, proxy);
            return;
        }

        await next(connection).ConfigureAwait(false);
    }

    /// <summary>Reads the header, or ends the connection and returns <see langword="null"/>.</summary>
    private async Task<ProxyHeader?> ReadHeaderAsync(Connection connection)
    {
        var input = connection.Transport.Input;

        // The receive buffer always has room for a maximum-size message plus the framing allowance; a longer header
        // could never arrive whole.
        var maxLength = (int)Math.Min(ProxyHeaderV2.MaxLength, connection.MaxMessageSize + SocketServerOptions.FramingAllowance);
        using var deadline = new CancellationTokenSource(options.HeaderTimeout, context.TimeProvider);
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(deadline.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                if (TryParse(input, buffer, maxLength, out var header))
                {
                    return header;
                }

                if (result.IsCanceled || (result.IsCompleted && buffer.IsEmpty))
                {
                    // Aborted, or closed before sending anything: nothing was claimed, so nothing to report.
                    return null;
                }

                if (result.IsCompleted)
                {
                    throw new ProxyProtocolException("The connection ended inside its PROXY protocol header.");
                }
            }
        }
        catch (ProxyProtocolException ex)
        {
            Log.ProxyHeaderInvalid(context.ConnectionLogger, connection.Id, connection.RemoteEndPoint, ex.Message);
            connection.Abort(ConnectionEndReason.ProxyHeaderInvalid);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            Log.ProxyHeaderTimeout(context.ConnectionLogger, connection.Id, connection.RemoteEndPoint, options.HeaderTimeout);
            connection.Abort(ConnectionEndReason.ProxyHeaderTimeout);
        }
        catch (Exception ex) when (ex is ConnectionResetException or ConnectionAbortedException)
        {
            // The peer reset the connection or it was aborted: its end reason is already recorded.
        }

        return null;
    }

    /// <summary>Consumes the header if the buffer holds all of it; otherwise marks everything examined.</summary>
    private static bool TryParse(PipeReader input, ReadOnlySequence<byte> buffer, int maxLength, out ProxyHeader header)
    {
        bool parsed;
        try
        {
            parsed = ProxyHeaderParser.TryParse(buffer, maxLength, out header);
        }
        catch (ProxyProtocolException)
        {
            input.AdvanceTo(buffer.Start, buffer.End);
            throw;
        }

        // Consume only the header, without examining what follows it: the handler's first read must return the
        // client's bytes that came in the same segment at once, not wait for more.
        if (parsed)
        {
            input.AdvanceTo(buffer.GetPosition(header.Length));
        }
        else
        {
            input.AdvanceTo(buffer.Start, buffer.End);
        }

        return parsed;
    }

    /// <summary>Waits for the first byte after the header, leaving it unread; false if the connection ends first.</summary>
    private static async Task<bool> SendsDataAsync(Connection connection)
    {
        var input = connection.Transport.Input;
        var closeRequested = connection.CloseRequested;
        try
        {
            var result = await input.ReadAsync(closeRequested).ConfigureAwait(false);
            input.AdvanceTo(result.Buffer.Start);
            return !result.Buffer.IsEmpty;
        }
        catch (OperationCanceledException) when (closeRequested.IsCancellationRequested)
        {
            return false;
        }
        catch (Exception ex) when (ex is ConnectionResetException or ConnectionAbortedException)
        {
            return false;
        }
    }
}
