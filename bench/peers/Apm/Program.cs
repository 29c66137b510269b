using System.Net;
using Sockeye.Peers;
using Sockeye.Peers.Apm;

return await PeerHost.RunAsync("peer-apm", args, [], options =>
{
    var listener = new AsynchronousSocketListener(options.Handler);
    var endPoint = listener.Bind(new IPEndPoint(IPAddress.Loopback, options.Port));

    // The docs' accept loop blocks a thread of its own on a ManualResetEvent between accepts.
    var acceptThread = new Thread(listener.AcceptLoop) { IsBackground = true, Name = "accept" };
    acceptThread.Start();
    return Task.FromResult(new RunningPeer(endPoint, () =>
    {
        listener.Dispose();
        return Task.CompletedTask;
    }));
});
