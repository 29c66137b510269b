using System.Text;
using DotNetty.Buffers;
using DotNetty.Transport.Channels;
using DotNetty.Transport.Channels.Groups;
using DotNetty.Transport.Channels.Sockets;

namespace Sockeye.Peers.DotNetty;

/// <summary>Writes every buffer back as it arrives and flushes once per read batch, as Netty's echo example does.</summary>
internal sealed class EchoHandler : ChannelHandlerAdapter
{
    public override bool IsSharable => true;

    public override void ChannelRead(IChannelHandlerContext context, object message) => context.WriteAsync(message);

    public override void ChannelReadComplete(IChannelHandlerContext context) => context.Flush();

    public override void ExceptionCaught(IChannelHandlerContext context, Exception exception) => context.CloseAsync();
}

/// <summary>Gathers what a connection sends; the two handlers below decide when it is complete.</summary>
internal abstract class GatheringHandler : ChannelHandlerAdapter
{
    private IByteBuffer? _received;

    protected IByteBuffer Received => _received ?? Unpooled.Empty;

    public override void ChannelRead(IChannelHandlerContext context, object message)
    {
        var buffer = (IByteBuffer)message;
        _received ??= context.Allocator.Buffer();
        _received.WriteBytes(buffer);
        buffer.Release();
        OnReceived(context);
    }

    public override void ChannelInactive(IChannelHandlerContext context)
    {
        _received?.Release();
        _received = null;
        base.ChannelInactive(context);
    }

    public override void ExceptionCaught(IChannelHandlerContext context, Exception exception) => context.CloseAsync();

    protected abstract void OnReceived(IChannelHandlerContext context);

    /// <summary>Hands the gathered bytes over (for writing); the handler holds them no more.</summary>
    protected IByteBuffer TakeReceived()
    {
        var received = _received!;
        _received = null;
        return received;
    }
}

/// <summary>The companion server: reads to the delimiter, reports, echoes the message, closes.</summary>
internal sealed class EofEchoHandler : GatheringHandler
{
    protected override void OnReceived(IChannelHandlerContext context)
    {
        var text = Received.ToString(Encoding.ASCII);
        if (!text.Contains(SeedReport.Delimiter, StringComparison.Ordinal))
        {
            return;
        }

        SeedReport.Received(text.Length, text);
        _ = context.WriteAndFlushAsync(TakeReceived()).ContinueWith(
            (_, state) =>
            {
                SeedReport.Sent(text.Length);
                return ((IChannelHandlerContext)state!).CloseAsync();
            },
            context,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }
}

/// <summary>
/// The seed: reads until the client ends its side, reports, closes. DotNetty's socket channel closes itself when the
/// client ends its side (it raises no input-shutdown event even with half-closure allowed), so the report is
/// written as the channel goes inactive, or at the input-shutdown event where a transport raises one.
/// </summary>
internal sealed class PrintHandler : GatheringHandler
{
    private bool _reported;

    public override void UserEventTriggered(IChannelHandlerContext context, object evt)
    {
        if (evt is ChannelInputShutdownEvent)
        {
            Report();
            context.CloseAsync();
            return;
        }

        base.UserEventTriggered(context, evt);
    }

    public override void ChannelInactive(IChannelHandlerContext context)
    {
        Report();
        base.ChannelInactive(context);
    }

    protected override void OnReceived(IChannelHandlerContext context)
    {
    }

    private void Report()
    {
        if (_reported)
        {
            return;
        }

        _reported = true;
        var text = Received.ToString(Encoding.ASCII);
        if (text.Length > 0)
        {
            SeedReport.Received(text.Length, text);
        }
    }
}

/// <summary>
/// Fan-out as a DotNetty user writes it: every connection joins one <see cref="IChannelGroup"/>, and each line (cut by
/// a <c>LineBasedFrameDecoder</c> ahead of this handler, newline kept) goes to every other member with
/// <see cref="IChannelGroup.WriteAndFlushAsync(object, IChannelMatcher)"/>, which shares the buffer among them.
/// </summary>
internal sealed class RelayHandler(IChannelGroup everyone) : SimpleChannelInboundHandler<IByteBuffer>
{
    public override bool IsSharable => true;

    public override void ChannelActive(IChannelHandlerContext context)
    {
        everyone.Add(context.Channel);
        base.ChannelActive(context);
    }

    protected override void ChannelRead0(IChannelHandlerContext context, IByteBuffer message) =>
        everyone.WriteAndFlushAsync(message.Retain(), new EveryoneBut(context.Channel));

    public override void ExceptionCaught(IChannelHandlerContext context, Exception exception) => context.CloseAsync();

    private sealed class EveryoneBut(IChannel sender) : IChannelMatcher
    {
        public bool Matches(IChannel channel) => channel != sender;
    }
}
