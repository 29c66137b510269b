namespace Sockeye;

/// <summary>
/// Thrown from a connection's input after the connection was aborted: by the handler, a limit, a timeout
/// or the server shutting down. <see cref="Connection.EndReason"/> says which.
/// </summary>
public sealed class ConnectionAbortedException : OperationCanceledException
{
    /// <summary>Creates the exception with a default message.</summary>
    public ConnectionAbortedException()
        : base("The connection was aborted.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What happened.</param>
    public ConnectionAbortedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the underlying error.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The error behind it.</param>
    public ConnectionAbortedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
