namespace Sockeye.Transport.Linux;

/// <summary>Work another thread hands to a loop's thread.</summary>
internal interface IEventLoopWork
{
    void Execute();
}
