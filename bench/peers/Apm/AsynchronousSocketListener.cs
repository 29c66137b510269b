using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Sockeye.Peers.Apm;

/// <summary>The docs' state object: the socket, a 1024-byte buffer, and the text received so far.</summary>
internal sealed class StateObject(Socket workSocket)
{
    public const int BufferSize = 1024;

    public Socket WorkSocket { get; } = workSocket;

    public byte[] Buffer { get; } = new byte[BufferSize];

    public StringBuilder Text { get; } = new();
}

/// <summary>
/// "Using an Asynchronous Server Socket" and its companion server as the docs write them: an accept loop on a
/// <see cref="ManualResetEvent"/>, and BeginReceive/BeginSend callbacks per connection. The seed's baseline.
/// </summary>
/// <remarks>
/// Three departures, each so the comparison measures the pattern rather than a defect the docs call out: Nagle is
/// off (as every other server here has it), a callback that fails closes its socket instead of ending the process,
/// and a client that closes before the delimiter is closed too (the companion leaks that socket). The companion's
/// backlog of 100 stays.
/// </remarks>
internal sealed class AsynchronousSocketListener(PeerHandler handler) : IDisposable
{
    private const int Backlog = 100;

    private readonly ManualResetEvent _allDone = new(false);
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

    public EndPoint Bind(IPEndPoint endPoint)
    {
        _listener.Bind(endPoint);
        _listener.Listen(Backlog);
        return _listener.LocalEndPoint!;
    }

    public void AcceptLoop()
    {
        try
        {
            while (true)
            {
                _allDone.Reset();
                _listener.BeginAccept(AcceptCallback, _listener);
                _allDone.WaitOne();
            }
        }
        catch (ObjectDisposedException)
        {
            // The listener was closed: stop accepting.
        }
    }

    public void Dispose()
    {
        _listener.Dispose();
        _allDone.Dispose();
    }

    private void AcceptCallback(IAsyncResult ar)
    {
        Socket socket;
        try
        {
            socket = ((Socket)ar.AsyncState!).EndAccept(ar);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return;
        }
        finally
        {
            _allDone.Set();
        }

        socket.NoDelay = true;
        var state = new StateObject(socket);
        try
        {
            socket.BeginReceive(state.Buffer, 0, StateObject.BufferSize, 0, ReadCallback, state);
        }
        catch (Exception ex) when (IsConnectionError(ex))
        {
            socket.Close();
        }
    }

    private void ReadCallback(IAsyncResult ar)
    {
        var state = (StateObject)ar.AsyncState!;
        var socket = state.WorkSocket;
        try
        {
            var read = socket.EndReceive(ar);
            switch (handler)
            {
                case PeerHandler.Echo when read > 0:
                    socket.BeginSend(state.Buffer, 0, read, 0, EchoSentCallback, state);
                    break;
                case PeerHandler.EofEcho when read > 0:
                    state.Text.Append(Encoding.ASCII.GetString(state.Buffer, 0, read));
                    var content = state.Text.ToString();
                    if (content.Contains(SeedReport.Delimiter, StringComparison.Ordinal))
                    {
                        SeedReport.Received(content.Length, content);
                        var reply = Encoding.ASCII.GetBytes(content);
                        socket.BeginSend(reply, 0, reply.Length, 0, ReplySentCallback, state);
                    }
                    else
                    {
                        socket.BeginReceive(state.Buffer, 0, StateObject.BufferSize, 0, ReadCallback, state);
                    }

                    break;
                case PeerHandler.Print when read > 0:
                    state.Text.Append(Encoding.ASCII.GetString(state.Buffer, 0, read));
                    socket.BeginReceive(state.Buffer, 0, StateObject.BufferSize, 0, ReadCallback, state);
                    break;
                default:
                    if (handler == PeerHandler.Print && state.Text.Length > 1)
                    {
                        var text = state.Text.ToString();
                        SeedReport.Received(text.Length, text);
                    }

                    socket.Close();
                    break;
            }
        }
        catch (Exception ex) when (IsConnectionError(ex))
        {
            socket.Close();
        }
    }

    private void EchoSentCallback(IAsyncResult ar)
    {
        var state = (StateObject)ar.AsyncState!;
        try
        {
            state.WorkSocket.EndSend(ar);
            state.WorkSocket.BeginReceive(state.Buffer, 0, StateObject.BufferSize, 0, ReadCallback, state);
        }
        catch (Exception ex) when (IsConnectionError(ex))
        {
            state.WorkSocket.Close();
        }
    }

    private void ReplySentCallback(IAsyncResult ar)
    {
        var state = (StateObject)ar.AsyncState!;
        try
        {
            var sent = state.WorkSocket.EndSend(ar);
            SeedReport.Sent(sent);
            state.WorkSocket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (IsConnectionError(ex))
        {
            // The client went away first; closing is all that is left.
        }

        state.WorkSocket.Close();
    }

    // The docs' callbacks have no error handling at all, so a client's reset would end the whole process.
    private static bool IsConnectionError(Exception exception) => exception is SocketException or ObjectDisposedException;
}
