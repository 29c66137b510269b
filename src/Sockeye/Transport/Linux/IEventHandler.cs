namespace Sockeye.Transport.Linux;

/// <summary>Something registered on an <see cref="EventLoop"/> for one file descriptor.</summary>
internal interface IEventHandler
{
    /// <summary>
    /// The descriptor reported ready. The event bits are a hint only: the descriptor may have been closed and its
    /// number reused since, so a handler acts on what its system calls say, never on the bits alone.
    /// </summary>
    void OnEvents(uint events);
}
