using System.Buffers;
using Sockeye.Framing;

namespace Sockeye.Cli.Handlers;

/// <summary>
/// A framer for one connection that frames as another does and keeps a copy of the frame still
/// arriving, so that what arrived of it can be reported when the connection ends before it is whole (a reset, a
/// timeout, a stop, a frame too large): the pipe's buffer is gone by then.
/// </summary>
/// <remarks>
/// The reader hands a framer every unconsumed byte at each call, from a frame's start: while no frame is found, each
/// call sees the bytes of the last one and more, so only the new ones are copied; a frame found starts the next.
/// </remarks>
internal sealed class UnfinishedFrameCopy : MessageFramer, IDisposable
{
    private readonly MessageFramer _framer;
    private readonly KeptBytes _kept = new();

    public UnfinishedFrameCopy(MessageFramer framer)
    {
        _framer = framer;
        MaxMessageSize = framer.MaxMessageSize;
    }

    public override bool MessageEndsWithStream => _framer.MessageEndsWithStream;

    public override bool TryParseMessage(
        in ReadOnlySequence<byte> input,
        long maxMessageSize,
        ref SequencePosition consumed,
        ref SequencePosition examined,
        out ReadOnlySequence<byte> message)
    {
        bool found;
        try
        {
            found = _framer.TryParseMessage(input, maxMessageSize, ref consumed, ref examined, out message);
        }
        catch (ProtocolException)
        {
            Keep(input);
            throw;
        }

        if (found)
        {
            _kept.Clear();
        }
        else
        {
            Keep(input);
        }

        return found;
    }

    public override bool TryParseFinalMessage(in ReadOnlySequence<byte> input, long maxMessageSize, out ReadOnlySequence<byte> message)
    {
        if (_framer.TryParseFinalMessage(input, maxMessageSize, out message))
        {
            _kept.Clear();
            return true;
        }

        return false;
    }

    public override void WriteMessage(ReadOnlySpan<byte> message, IBufferWriter<byte> output) => _framer.WriteMessage(message, output);

    /// <summary>Reports what arrived of the frame under way, if anything did: once the connection has ended under it.</summary>
    public ValueTask ReportAsync(HandlerOutput output, Connection connection) =>
        _kept.Length > 0 ? output.MessageReceivedAsync(connection, _kept.Bytes) : ValueTask.CompletedTask;

    public void Dispose() => _kept.Dispose();

    private void Keep(in ReadOnlySequence<byte> input)
    {
        if (input.Length > _kept.Length)
        {
            _kept.Append(input.Slice(_kept.Length));
        }
    }
}
