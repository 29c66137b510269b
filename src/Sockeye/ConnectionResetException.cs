namespace Sockeye;

/// <summary>
/// Thrown from a connection's input when the client reset the connection or the network failed under it.
/// A handler need not catch it: the server records <see cref="ConnectionEndReason.ConnectionReset"/>, not a
/// handler error. In the testing kit, the other way round too: a <see cref="Testing.TestConnection"/>'s reads throw it
/// when the server reset the connection (its message names the end reason), after the bytes sent before the reset.
/// </summary>
public sealed class ConnectionResetException : IOException
{
    /// <summary>Creates the exception with a default message.</summary>
    public ConnectionResetException()
        : base("The client reset the connection.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What happened.</param>
    public ConnectionResetException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the underlying error.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The socket error behind it.</param>
    public ConnectionResetException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
