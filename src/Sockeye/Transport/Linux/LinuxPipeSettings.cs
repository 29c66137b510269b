namespace Sockeye.Transport.Linux;

/// <summary>The Linux transport's input and output pipe settings, which every one of its connections shares.</summary>
internal sealed class LinuxPipeSettings(ServerContext context)
{
    /// <summary>The receive side: pauses reading at the receive buffer size.</summary>
    public PipeSettings Input { get; } = context.InputSettings;

    /// <summary>The send side: the handler's writes wait at the send buffer size.</summary>
    public PipeSettings Output { get; } = new(context.MemoryPool, context.Options.MaxSendBufferSize, context.Options.InlineScheduling);
}
