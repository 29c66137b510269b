using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using Sockeye.Framing;

namespace Sockeye.Benchmarks;

/// <summary>
/// A broadcast to a group of loopback connections, end to end: framed once, queued for every member, drained into each
/// socket, and read by every client. The allocated bytes per operation are what one broadcast costs the whole process
/// (BenchmarkDotNet counts every thread); that they do not grow with <see cref="Members"/> is what "nothing is copied or
/// allocated per member" means.
/// </summary>
[MemoryDiagnoser]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet disposes the server in GlobalCleanup.")]
public class BroadcastBenchmarks
{
    private readonly LineFramer _framer = new();
    private SocketServer _server = null!;
    private ConnectionGroup _group = null!;
    private Socket[] _clients = [];
    private byte[] _message = [];
    private byte[] _received = [];

    [Params(100, 1000)]
    public int Members { get; set; }

    [Params(32, 1024)]
    public int MessageSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _message = new byte[MessageSize];
        Array.Fill(_message, (byte)'x');
        _received = new byte[MessageSize + 1];
        var group = new ConnectionGroup();
        var options = new SocketServerOptions { MaxConnections = null };
        options.Listen(IPAddress.Loopback, 0);
        _server = new SocketServer(options, async connection =>
        {
            group.Add(connection);
            await connection.Transport.Input.ReadAsync();
        });
        _server.StartAsync().GetAwaiter().GetResult();
        _clients = new Socket[Members];
        for (var i = 0; i < Members; i++)
        {
            _clients[i] = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            _clients[i].Connect(_server.EndPoints[0]);
        }

        while (group.Count < Members)
        {
            Thread.Sleep(10);
        }

        _group = group;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var client in _clients)
        {
            client.Dispose();
        }

        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    /// <summary>One message to every member, and every member's client has read it.</summary>
    [Benchmark]
    public async Task<int> Broadcast()
    {
        var queued = await _group.BroadcastMessageAsync(_framer, _message);
        foreach (var client in _clients)
        {
            var filled = 0;
            while (filled < _received.Length)
            {
                filled += client.Receive(_received.AsSpan(filled));
            }
        }

        return queued;
    }
}
