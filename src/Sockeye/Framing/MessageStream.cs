namespace Sockeye.Framing;

/// <summary>
/// The messages of a pipe as an <see cref="IAsyncEnumerable{T}"/>: each enumeration gets a fresh reader, which
/// takes up where the last one left the pipe.
/// </summary>
internal sealed class MessageStream<TMessage>(Func<CancellationToken, MessageReader<TMessage>> create, CancellationToken cancellationToken) : IAsyncEnumerable<TMessage>
{
    public IAsyncEnumerator<TMessage> GetAsyncEnumerator(CancellationToken enumeratorToken = default)
    {
        if (!enumeratorToken.CanBeCanceled || enumeratorToken == cancellationToken)
        {
            return create(cancellationToken);
        }

        if (!cancellationToken.CanBeCanceled)
        {
            return create(enumeratorToken);
        }

        return new LinkedReader(create, CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, enumeratorToken));
    }

    /// <summary>A reader canceled by either of two tokens; it owns the source that links them.</summary>
    private sealed class LinkedReader(Func<CancellationToken, MessageReader<TMessage>> create, CancellationTokenSource linked) : IAsyncEnumerator<TMessage>
    {
        private readonly MessageReader<TMessage> _reader = create(linked.Token);

        public TMessage Current => _reader.Current;

        public ValueTask<bool> MoveNextAsync() => _reader.MoveNextAsync();

        public async ValueTask DisposeAsync()
        {
            await _reader.DisposeAsync().ConfigureAwait(false);
            linked.Dispose();
        }
    }
}
