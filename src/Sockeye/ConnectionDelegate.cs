namespace Sockeye;

/// <summary>
/// One step of a listener's connection pipeline: a layer such as the PROXY protocol or TLS, or, last, the handler.
/// A layer that replaces <see cref="Connection.Transport"/> must, once the rest of the pipeline has returned,
/// complete the pipes it created and flush what its layer still owes the peer (a TLS close_notify, say).
/// </summary>
internal delegate Task ConnectionDelegate(Connection connection);
