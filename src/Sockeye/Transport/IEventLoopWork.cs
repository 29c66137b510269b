namespace Sockeye.Transport;

/// <summary>
/// Work another thread hands to a transport's event loop, to run on the loop's thread (the epoll transport's
/// <c>EventLoop</c>). Here rather than under <c>Linux/</c> because what is handed over (a connection's receive, a push
/// queue's drain) belongs to the layers above the transport.
/// </summary>
internal interface IEventLoopWork
{
    void Execute();
}
