using System.IO.Pipelines;

namespace Sockeye.Framing;

/// <summary>
/// The messages of a connection's input, or of a pipe, as an <see cref="IAsyncEnumerable{T}"/>: each enumeration gets a
/// fresh reader, which takes up where the last one left the input. It keeps what a reader needs rather than a delegate
/// that makes one, so a connection's <c>ReadMessagesAsync</c> costs this object and nothing more before it is enumerated.
/// </summary>
internal sealed class MessageStream<TMessage> : IAsyncEnumerable<TMessage>
{
    private readonly Connection? _connection;
    private readonly PipeReader? _input;
    private readonly IMessageReader<TMessage> _protocol;
    private readonly long _maxMessageSize;
    private readonly CancellationToken _cancellationToken;

    /// <summary>A connection's messages: its input and limits are read when the enumeration starts.</summary>
    public MessageStream(Connection connection, IMessageReader<TMessage> protocol, CancellationToken cancellationToken)
    {
        _connection = connection;
        _protocol = protocol;
        _cancellationToken = cancellationToken;
    }

    /// <summary>A pipe's messages, at most <paramref name="maxMessageSize"/> bytes each.</summary>
    public MessageStream(PipeReader input, IMessageReader<TMessage> protocol, long maxMessageSize, CancellationToken cancellationToken)
    {
        _input = input;
        _protocol = protocol;
        _maxMessageSize = maxMessageSize;
        _cancellationToken = cancellationToken;
    }

    public IAsyncEnumerator<TMessage> GetAsyncEnumerator(CancellationToken enumeratorToken = default)
    {
        if (!enumeratorToken.CanBeCanceled || enumeratorToken == _cancellationToken)
        {
            return Create(_cancellationToken);
        }

        if (!_cancellationToken.CanBeCanceled)
        {
            return Create(enumeratorToken);
        }

        return new LinkedReader(this, CancellationTokenSource.CreateLinkedTokenSource(_cancellationToken, enumeratorToken));
    }

    private MessageReader<TMessage> Create(CancellationToken cancellationToken) => _connection is { } connection
        ? MessageReader<TMessage>.Create(connection, _protocol, connection.Transport.Output, cancellationToken)
        : new MessageReader<TMessage>(_input!, _protocol, _maxMessageSize, cancellationToken: cancellationToken);

    /// <summary>A reader canceled by either of two tokens; it owns the source that links them.</summary>
    private sealed class LinkedReader(MessageStream<TMessage> stream, CancellationTokenSource linked) : IAsyncEnumerator<TMessage>
    {
        private readonly MessageReader<TMessage> _reader = stream.Create(linked.Token);

        public TMessage Current => _reader.Current;

        public ValueTask<bool> MoveNextAsync() => _reader.MoveNextAsync();

        public async ValueTask DisposeAsync()
        {
            await _reader.DisposeAsync().ConfigureAwait(false);
            linked.Dispose();
        }
    }
}
