namespace Sockeye.Transport.Sockets;

/// <summary>
/// Where bytes read only to be thrown away land (after a handler stopped reading, while a connection lingers).
/// Many connections may receive into it at once; nothing ever reads it, so sharing it costs nothing and holds no
/// per-connection memory. Pinned, so native code may write into it.
/// </summary>
internal static class DiscardBuffer
{
    public static readonly byte[] Array = GC.AllocateUninitializedArray<byte>(PinnedBlockMemoryPool.BlockSize, pinned: true);

    public static Memory<byte> Memory => Array;
}
