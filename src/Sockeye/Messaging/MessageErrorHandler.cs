namespace Sockeye.Messaging;

/// <summary>
/// Decides what becomes of a connection when the handler of one of its messages throws, and may reply first (an
/// error message in the protocol's own terms).
/// </summary>
/// <typeparam name="TMessage">What the protocol's reader makes of a message.</typeparam>
/// <param name="connection">The connection the message came on.</param>
/// <param name="message">The message whose handler threw.</param>
/// <param name="exception">What it threw.</param>
/// <returns>Whether the connection ends or goes on.</returns>
public delegate ValueTask<MessageErrorAction> MessageErrorHandler<TMessage>(Connection connection, TMessage message, Exception exception);
