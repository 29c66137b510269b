using System.Net;
using DotNetty.Codecs;
using DotNetty.Common.Concurrency;
using DotNetty.Transport.Bootstrapping;
using DotNetty.Transport.Channels.Groups;
using DotNetty.Transport.Channels;
using DotNetty.Transport.Channels.Sockets;
using Sockeye.Peers;
using Sockeye.Peers.DotNetty;

return await PeerHost.RunAsync("peer-dotnetty", args, [], async options =>
{
    // Netty's usual shape: one boss loop accepts, the worker loops (twice the processor count) serve connections.
    var boss = new MultithreadEventLoopGroup(1);
    var workers = new MultithreadEventLoopGroup();
    var echo = new EchoHandler();
    // A group's own executor completes its futures; its members leave it as they close.
    var relay = new RelayHandler(new DefaultChannelGroup(new SingleThreadEventExecutor("relay-group", TimeSpan.FromMilliseconds(100))));
    var bootstrap = new ServerBootstrap()
        .Group(boss, workers)
        .Channel<TcpServerSocketChannel>()
        .Option(ChannelOption.SoBacklog, 512)
        .ChildOption(ChannelOption.TcpNodelay, true)
        .ChildOption(ChannelOption.AllowHalfClosure, options.Handler == PeerHandler.Print)
        .ChildHandler(new ActionChannelInitializer<ISocketChannel>(channel =>
        {
            if (options.Handler == PeerHandler.Relay)
            {
                channel.Pipeline.AddLast(new LineBasedFrameDecoder(64 * 1024, stripDelimiter: false, failFast: true), relay);
                return;
            }

            channel.Pipeline.AddLast(options.Handler switch
            {
                PeerHandler.Echo => echo,
                PeerHandler.EofEcho => new EofEchoHandler(),
                _ => new PrintHandler(),
            });
        }));
    var listener = await bootstrap.BindAsync(new IPEndPoint(IPAddress.Loopback, options.Port));
    return new RunningPeer(listener.LocalAddress, async () =>
    {
        await listener.CloseAsync();
        // Netty's default quiet period (2 s) and timeout (15 s) would only slow down every run of bench/compare.
        var quiet = TimeSpan.FromMilliseconds(100);
        var timeout = TimeSpan.FromSeconds(2);
        await Task.WhenAll(boss.ShutdownGracefullyAsync(quiet, timeout), workers.ShutdownGracefullyAsync(quiet, timeout));
    });
});
