namespace Sockeye.Transport.Linux;

/// <summary>What owns a descriptor behind a <see cref="DescriptorGuard"/>, and closes it when the guard says so.</summary>
internal interface IDescriptorOwner
{
    /// <summary>Closes the descriptor: called once no system call uses it and it was asked to close.</summary>
    void CloseDescriptor();
}
