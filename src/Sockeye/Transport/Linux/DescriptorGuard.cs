namespace Sockeye.Transport.Linux;

/// <summary>
/// Descriptor safety: how many system calls are using a connection's descriptor right now, and whether it is to be
/// closed. It is closed when both hold, by whoever sees them hold last, so a number the kernel has handed to someone
/// else is never touched. A struct kept inside its connection: it costs the connection no object of its own.
/// </summary>
internal struct DescriptorGuard
{
    // The users; the sign bit marks that the descriptor is to be closed.
    private int _users;

    /// <summary>Begins one system call on the descriptor; <see langword="false"/> once it is to be closed (make no call then).</summary>
    public bool TryEnter<TOwner>(TOwner owner)
        where TOwner : class, IDescriptorOwner
    {
        if (Interlocked.Increment(ref _users) < 0)
        {
            Exit(owner);
            return false;
        }

        return true;
    }

    /// <summary>Ends a system call begun with <see cref="TryEnter"/>.</summary>
    public void Exit<TOwner>(TOwner owner)
        where TOwner : class, IDescriptorOwner
    {
        if (Interlocked.Decrement(ref _users) == int.MinValue)
        {
            owner.CloseDescriptor();
        }
    }

    /// <summary>Marks the descriptor to be closed: now, if no system call uses it, else when the last one ends.</summary>
    public void RequestClose<TOwner>(TOwner owner)
        where TOwner : class, IDescriptorOwner
    {
        if (Interlocked.Or(ref _users, int.MinValue) == 0)
        {
            owner.CloseDescriptor();
        }
    }
}
