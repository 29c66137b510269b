using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Sockeye.Framing;
using Sockeye.Handlers;
using Sockeye.Protocols;

namespace Sockeye.Soak;

/// <summary>
/// The process under test: one server with every limit tight and a listener per kind of hostile load, and beside it,
/// in the same process, a server at the default limits for the well-behaved clients (issue 17, item 4). It prints
/// its ports, then answers the driver's commands on standard input, one per line: <c>stats</c> (a JSON line: end
/// reasons, managed heap), <c>gc</c> (a full, compacting collection) and <c>reason PORT</c> (how the connection from
/// that client port ended). Standard input's end stops it.
/// </summary>
internal static class SoakServer
{
    public static async Task<int> RunAsync()
    {
        var ended = new ConcurrentDictionary<string, long>();
        using var listener = ListenToEndReasons(ended);
        var healthyEnded = new ConcurrentDictionary<string, long>();

        var tight = TightOptions();
        var echo = tight.Listen(IPAddress.Loopback, 0);
        var line = tight.Listen(IPAddress.Loopback, 0);
        var reasons = new ConcurrentDictionary<int, string>();
        line.Handler = Recording(new EchoHandler(new LineFramer()), reasons);
        var tls = tight.Listen(IPAddress.Loopback, 0);
        using var certificate = CreateCertificate();
        tls.Tls = new TlsOptions(certificate) { HandshakeTimeout = TimeSpan.FromSeconds(1) };
        var proxy = tight.Listen(IPAddress.Loopback, 0);
        proxy.ProxyProtocol = new ProxyProtocolOptions { HeaderTimeout = TimeSpan.FromSeconds(1) };
        proxy.ProxyProtocol.TrustedProxies.Add(IPNetwork.Parse("127.0.0.0/8"));

        // The defaults, untouched: item 4 is about the limits users run with.
        var defaults = new SocketServerOptions();
        defaults.Listen(IPAddress.Loopback, 0);
        var healthyHandler = new EchoHandler(new LengthPrefixFramer());

        await using var hostile = new SocketServer(tight, Recording(new EchoHandler(), reasons));
        await using var healthy = new SocketServer(defaults, ConnectionHandler.Create(connection =>
        {
            connection.ConnectionClosed.Register(() => healthyEnded.AddOrUpdate(connection.EndReason.ToString(), 1, (_, n) => n + 1));
            return healthyHandler.OnConnectedAsync(connection);
        }));
        await hostile.StartAsync();
        await healthy.StartAsync();

        int Port(int index) => ((IPEndPoint)hostile.EndPoints[index]).Port;
        Console.WriteLine($"ready echo={Port(0)} line={Port(1)} tls={Port(2)} proxy={Port(3)} healthy={((IPEndPoint)healthy.EndPoints[0]).Port} certificate={certificate.GetCertHashString()}");

        while (await Console.In.ReadLineAsync() is { } command)
        {
            switch (command)
            {
                case "gc":
                    GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                    GC.WaitForPendingFinalizers();
                    GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                    Console.WriteLine("ok");
                    break;
                case ['r', 'e', 'a', 's', 'o', 'n', ' ', .. var port]:
                    Console.WriteLine(reasons.GetValueOrDefault(int.Parse(port, System.Globalization.CultureInfo.InvariantCulture), "unknown"));
                    break;
                case "stats":
                    listener.RecordObservableInstruments();
                    Console.WriteLine(JsonSerializer.Serialize(new Stats(
                        new SortedDictionary<string, long>(ended),
                        new SortedDictionary<string, long>(healthyEnded),
                        GC.GetTotalMemory(forceFullCollection: false),
                        ThreadPool.ThreadCount)));
                    break;
                default:
                    Console.WriteLine($"unknown command {command}");
                    break;
            }
        }

        await hostile.StopAsync();
        await healthy.StopAsync();
        return 0;
    }

    /// <summary>Records each connection's end reason by the client's port, so the driver can say why a checksummed exchange failed.</summary>
    private static ConnectionHandler Recording(ConnectionHandler handler, ConcurrentDictionary<int, string> reasons) =>
        ConnectionHandler.Create(connection =>
        {
            if (connection.RemoteEndPoint is IPEndPoint remote)
            {
                connection.ConnectionClosed.Register(() => reasons[remote.Port] = connection.EndReason.ToString());
            }

            return handler.OnConnectedAsync(connection);
        });

    /// <summary>Every limit at a value a soak reaches within seconds.</summary>
    private static SocketServerOptions TightOptions() => new()
    {
        MaxConnections = 600,
        MaxMessageSize = 64 * 1024,
        MaxReceiveBufferSize = 128 * 1024,
        MaxSendBufferSize = 16 * 1024,
        IdleTimeout = TimeSpan.FromSeconds(2),
        MinDataRate = 240,
        MinDataRateGracePeriod = TimeSpan.FromSeconds(1),
        WriteTimeout = TimeSpan.FromSeconds(2),
        LingerTimeout = TimeSpan.FromSeconds(1),
        ShutdownTimeout = TimeSpan.FromSeconds(5),
    };

    /// <summary>Counts <c>sockeye.ended_connections</c> by end reason, over both servers.</summary>
    private static MeterListener ListenToEndReasons(ConcurrentDictionary<string, long> ended)
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == "Sockeye" && instrument.Name == "sockeye.ended_connections")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "sockeye.connection.end_reason")
                {
                    ended.AddOrUpdate(tag.Value?.ToString() ?? "?", value, (_, n) => n + value);
                }
            }
        });
        listener.Start();
        return listener;
    }

    private static X509Certificate2 CreateCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(7));
    }
}

/// <summary>What the server reports on <c>stats</c>.</summary>
internal sealed record Stats(SortedDictionary<string, long> Ended, SortedDictionary<string, long> HealthyEnded, long ManagedHeap, int PoolThreads);
