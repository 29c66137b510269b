using Sockeye.Framing;

namespace Sockeye.Messaging;

/// <summary>
/// Decides what becomes of a connection whose client sent a message that is framed whole but does not parse (a
/// <see cref="ProtocolException"/> with <see cref="ProtocolException.MessageSkipped"/>), and may reply first (an
/// error message in the protocol's own terms).
/// </summary>
/// <param name="connection">The connection the message came on.</param>
/// <param name="exception">What the protocol's reader found wrong with the message.</param>
/// <returns>Whether the connection ends or goes on with the next message.</returns>
public delegate ValueTask<MessageErrorAction> InvalidMessageHandler(Connection connection, ProtocolException exception);
