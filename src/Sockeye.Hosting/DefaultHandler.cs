namespace Sockeye.Hosting;

/// <summary>The handler <c>AddSockeye</c> was given, kept apart from any other <see cref="ConnectionHandler"/> in the container.</summary>
internal sealed class DefaultHandler(ConnectionHandler handler)
{
    public ConnectionHandler Handler { get; } = handler;
}
