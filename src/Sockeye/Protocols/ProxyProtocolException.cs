namespace Sockeye.Protocols;

/// <summary>A PROXY protocol header that breaks the specification; the connection that sent it is dropped.</summary>
/// <remarks>Internal: the PROXY protocol layer catches it, so neither handlers nor users ever see it.</remarks>
internal sealed class ProxyProtocolException : Exception
{
    public ProxyProtocolException()
        : base("Invalid PROXY protocol header.")
    {
    }

    public ProxyProtocolException(string message)
        : base(message)
    {
    }

    public ProxyProtocolException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
