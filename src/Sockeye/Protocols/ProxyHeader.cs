using System.Net;

namespace Sockeye.Protocols;

/// <summary>What a PROXY protocol header said about the connection it precedes.</summary>
/// <param name="Length">The header's length in bytes; the client's own bytes follow it.</param>
/// <param name="IsLocal">
/// A version 2 LOCAL command: the proxy opened the connection on its own behalf (a health check), so the real
/// endpoints stand.
/// </param>
/// <param name="Source">The original client, or <see langword="null"/> to keep the real peer.</param>
/// <param name="Destination">The address the client connected to, or <see langword="null"/> to keep the real one.</param>
internal readonly record struct ProxyHeader(int Length, bool IsLocal, IPEndPoint? Source, IPEndPoint? Destination)
{
    /// <summary>A header that keeps the real endpoints: LOCAL, v1 UNKNOWN, or a v2 family the server does not map.</summary>
    public static ProxyHeader KeepRealEndPoints(int length, bool isLocal = false) => new(length, isLocal, null, null);
}
