using System.Net.Sockets;

namespace Sockeye.Transport.Sockets;

/// <summary>Accepts on one listening socket in a loop that never waits on a handler.</summary>
internal sealed class SocketAcceptLoop : IConnectionListener
{
    private readonly SocketListener _listener;
    private readonly ConnectionDispatcher _dispatcher;
    private readonly SocketSenderPool _senders;
    private readonly Task _running;

    public SocketAcceptLoop(SocketListener listener, ConnectionDispatcher dispatcher, SocketSenderPool senders)
    {
        _listener = listener;
        _dispatcher = dispatcher;
        _senders = senders;
        _running = RunAsync();
    }

    public Task StopAsync()
    {
        AcceptQueued();
        _listener.Dispose();
        return _running;
    }

    private async Task RunAsync()
    {
        while (true)
        {
            Socket? socket;
            try
            {
                socket = await _listener.AcceptAsync().ConfigureAwait(false);
            }
            catch (SocketException ex)
            {
                // Such as too many open files: keep the server up, and retry once some have closed.
                if (!await _dispatcher.BackOffAsync(ex.SocketErrorCode, ex).ConfigureAwait(false))
                {
                    return;
                }

                continue;
            }

            if (socket is null)
            {
                return;
            }

            _dispatcher.Dispatch(new AcceptedSocket(socket, _senders));
        }
    }

    /// <summary>
    /// Accepts, without waiting, what the kernel has already queued on the listener that is about to close: those
    /// clients have connected, and closing the listener would reset them.
    /// </summary>
    private void AcceptQueued()
    {
        try
        {
            _listener.Socket.Blocking = false;
            while (true)
            {
                _dispatcher.Dispatch(new AcceptedSocket(_listener.Socket.Accept(), _senders));
            }
        }
        catch (SocketException)
        {
            // WouldBlock: the queue is empty. Anything else: nothing more can be accepted from it.
        }
        catch (ObjectDisposedException)
        {
            // Closed already.
        }
    }
}
