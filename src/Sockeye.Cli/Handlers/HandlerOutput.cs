using System.Buffers;

namespace Sockeye.Cli.Handlers;

/// <summary>
/// Where the built-in handlers report what they received and sent: the seed's text lines, JSON lines, or
/// nowhere. Writing is queued, so a slow terminal never stalls a connection until the queue is full.
/// </summary>
/// <remarks>
/// Close it (<see cref="CloseAsync"/>) once the server has stopped: it writes out what is queued.
/// </remarks>
internal abstract class HandlerOutput : IAsyncDisposable
{
    /// <summary>An output that discards everything.</summary>
    public static HandlerOutput Null { get; } = new NullOutput();

    /// <summary>
    /// The seed's format: <c>Read {N} bytes from socket.</c> then <c> Data : {text}</c> for a message received,
    /// and <c>Sent {N} bytes to client.</c> for a reply. Text is UTF-8, with control characters and invalid bytes
    /// escaped (<c>\n</c>, <c>\r</c>, <c>\xNN</c>; see <see cref="TextFormat"/>).
    /// </summary>
    /// <param name="stream">
    /// Where the lines go, in UTF-8, written from a thread of the output's own and flushed whenever its queue runs
    /// empty: at once for a lone line, about once a millisecond under load.
    /// </param>
    /// <returns>An output to close when the server has stopped, which writes out what is queued.</returns>
    public static HandlerOutput Text(Stream stream) => new QueuedOutput(stream, new TextFormat());

    /// <summary>
    /// One JSON object per line: <c>time</c>, <c>event</c> (<c>received</c> or <c>sent</c>), <c>connection</c>,
    /// <c>remote</c>, <c>bytes</c>, and for a received message its <c>data</c> as UTF-8 text (with
    /// <c>dataBase64</c> added when the bytes are not valid UTF-8).
    /// </summary>
    /// <param name="stream">
    /// Where the lines go, in UTF-8, written from a thread of the output's own and flushed whenever its queue runs
    /// empty: at once for a lone line, about once a millisecond under load.
    /// </param>
    /// <param name="timeProvider">The clock for the <c>time</c> field; the system clock by default.</param>
    /// <returns>An output to close when the server has stopped, which writes out what is queued.</returns>
    public static HandlerOutput JsonLines(Stream stream, TimeProvider? timeProvider = null) =>
        new QueuedOutput(stream, new JsonLinesFormat(timeProvider ?? TimeProvider.System));

    /// <summary>Reports a message received from <paramref name="connection"/>.</summary>
    /// <param name="connection">The connection it came from.</param>
    /// <param name="message">The message's bytes; read before the returned task completes, not kept.</param>
    /// <returns>A task that completes once the report is queued.</returns>
    public abstract ValueTask MessageReceivedAsync(Connection connection, ReadOnlySequence<byte> message);

    /// <summary>Reports a reply of <paramref name="byteCount"/> bytes sent to <paramref name="connection"/>.</summary>
    /// <param name="connection">The connection it went to.</param>
    /// <param name="byteCount">How many bytes were sent.</param>
    /// <returns>A task that completes once the report is queued.</returns>
    public abstract ValueTask MessageSentAsync(Connection connection, long byteCount);

    /// <summary>
    /// Writes out what is queued while the stream takes it, then stops. A stream that takes nothing for
    /// <see cref="WriteProgress.StallLimit"/> (a pipe nobody reads) is given up on, as it is at once when
    /// <paramref name="abort"/> is canceled. Records reported meanwhile (by handlers the stop could not end) are queued
    /// whatever the bound, and dropped once the output gave up.
    /// </summary>
    /// <param name="abort">Gives up at once: the stop was forced.</param>
    /// <returns>What was queued and not written; <see langword="null"/> when everything was.</returns>
    public virtual ValueTask<OutputLoss?> CloseAsync(CancellationToken abort = default) => ValueTask.FromResult<OutputLoss?>(null);

    /// <summary>Closes the output (<see cref="CloseAsync"/>) if it was not closed yet.</summary>
    /// <returns>A task that completes when the output is closed.</returns>
    public async ValueTask DisposeAsync()
    {
        await CloseAsync().ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }

    private sealed class NullOutput : HandlerOutput
    {
        public override ValueTask MessageReceivedAsync(Connection connection, ReadOnlySequence<byte> message) => ValueTask.CompletedTask;

        public override ValueTask MessageSentAsync(Connection connection, long byteCount) => ValueTask.CompletedTask;
    }
}

/// <summary>What an output could not write before it was closed: lines and bytes queued that the stream never took.</summary>
/// <param name="Lines">The lines, counted by their ends: one cut short counts.</param>
/// <param name="Bytes">The bytes.</param>
/// <param name="StreamClosed">The stream's reader went away (a closed pipe): every line from then on was lost.</param>
internal readonly record struct OutputLoss(long Lines, long Bytes, bool StreamClosed = false);
