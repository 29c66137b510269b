namespace Sockeye.Transport;

/// <summary>A transport accepting on one listening socket.</summary>
internal interface IConnectionListener
{
    /// <summary>
    /// Stops accepting: serves the clients the kernel has already queued (closing the listener would reset them),
    /// then closes the listening socket, so no accept ever touches a descriptor number the kernel has reused.
    /// </summary>
    /// <returns>A task that completes once nothing accepts on it any more.</returns>
    Task StopAsync();
}
