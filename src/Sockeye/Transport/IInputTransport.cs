namespace Sockeye.Transport;

/// <summary>What a <see cref="ConnectionInput"/> tells the transport that fills it.</summary>
internal interface IInputTransport
{
    /// <summary>The reader has caught up after the transport was told to stop receiving: receive again.</summary>
    void ResumeReceiving();

    /// <summary>The reader is done: nothing more will be read, so what arrives may be discarded.</summary>
    void ReaderCompleted();
}
