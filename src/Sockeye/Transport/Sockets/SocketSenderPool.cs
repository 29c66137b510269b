namespace Sockeye.Transport.Sockets;

/// <summary>A bounded pool of <see cref="SocketSender"/>s shared by a server's connections.</summary>
internal sealed class SocketSenderPool : IDisposable
{
    private readonly BoundedBag<SocketSender> _senders = new(capacity: 1024);

    public SocketSender Rent() => _senders.TryTake(out var sender) ? sender! : new SocketSender();

    public void Return(SocketSender sender)
    {
        sender.Reset();
        if (!_senders.TryKeep(sender))
        {
            sender.Dispose();
        }
    }

    public void Dispose()
    {
        foreach (var sender in _senders.Close())
        {
            sender.Dispose();
        }
    }
}
