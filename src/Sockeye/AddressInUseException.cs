namespace Sockeye;

/// <summary>Thrown by <see cref="SocketServer.StartAsync"/> when another socket already holds an endpoint.</summary>
public sealed class AddressInUseException : IOException
{
    /// <summary>Creates the exception with a default message.</summary>
    public AddressInUseException()
        : base("The address is already in use.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What happened.</param>
    public AddressInUseException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the socket error behind it.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The socket error.</param>
    public AddressInUseException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
