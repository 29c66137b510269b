using Sockeye.Framing;

namespace Sockeye.Client;

/// <summary>
/// What <see cref="SocketClient.ReadMessagesAsync{TMessage}"/> returns: each enumeration is the client's one receive,
/// taking up where the last left the input.
/// </summary>
internal sealed class ClientMessageStream<TMessage>(SocketClient client, IMessageReader<TMessage> protocol, long maxMessageSize, CancellationToken cancellationToken)
    : IAsyncEnumerable<TMessage>
{
    public IAsyncEnumerator<TMessage> GetAsyncEnumerator(CancellationToken enumeratorToken = default)
    {
        if (!enumeratorToken.CanBeCanceled || enumeratorToken == cancellationToken)
        {
            return new ClientMessageReader<TMessage>(client, protocol, maxMessageSize, cancellationToken);
        }

        if (!cancellationToken.CanBeCanceled)
        {
            return new ClientMessageReader<TMessage>(client, protocol, maxMessageSize, enumeratorToken);
        }

        var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, enumeratorToken);
        return new ClientMessageReader<TMessage>(client, protocol, maxMessageSize, linked.Token, linked);
    }
}

/// <summary>
/// The client's receive: messages from the current connection's input and, when the client reconnects, from the
/// next connection's, starting with its first whole message.
/// </summary>
internal sealed class ClientMessageReader<TMessage> : IAsyncEnumerator<TMessage>
{
    private readonly SocketClient _client;
    private readonly IMessageReader<TMessage> _protocol;
    private readonly long _maxMessageSize;
    private readonly CancellationToken _cancellationToken;
    private readonly CancellationTokenSource? _linked;
    private ClientConnection _connection;
    private MessageReader<TMessage>? _reader;
    private bool _disposed;

    /// <exception cref="InvalidOperationException">Another receive is under way.</exception>
    public ClientMessageReader(SocketClient client, IMessageReader<TMessage> protocol, long maxMessageSize, CancellationToken cancellationToken, CancellationTokenSource? linked = null)
    {
        try
        {
            _connection = client.BeginReceive();
        }
        catch
        {
            linked?.Dispose();
            throw;
        }

        _client = client;
        _protocol = protocol;
        _maxMessageSize = maxMessageSize;
        _cancellationToken = cancellationToken;
        _linked = linked;
    }

    public TMessage Current => _reader!.Current;

    public async ValueTask<bool> MoveNextAsync()
    {
        while (true)
        {
            _reader ??= new MessageReader<TMessage>(_connection.Input, _protocol, _maxMessageSize, cancellationToken: _cancellationToken);
            Exception lost;
            try
            {
                if (await _reader.MoveNextAsync().ConfigureAwait(false))
                {
                    return true;
                }

                if (!_client.ReconnectsOnEnd)
                {
                    return false;
                }

                lost = new IOException("The server closed the connection.");
            }
            catch (Exception ex) when (_client.MayReconnect(ex, _cancellationToken))
            {
                lost = ex;
            }

            // What the old connection held of a message is dropped with it; the next one starts on a frame boundary.
            await _reader.DisposeAsync().ConfigureAwait(false);
            _reader = null;
            _connection = await _client.ReceiveAfterAsync(_connection, lost, _cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_reader is not null)
        {
            await _reader.DisposeAsync().ConfigureAwait(false);
        }

        _linked?.Dispose();
        await _client.EndReceiveAsync().ConfigureAwait(false);
    }
}
