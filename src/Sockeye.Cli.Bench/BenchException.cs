namespace Sockeye.Cli.Bench;

/// <summary>
/// A failure the user caused and can fix (a server that is not there, too few open files): the tool prints its message
/// as one line and exits with 1, never with a stack trace.
/// </summary>
internal sealed class BenchException(string message) : Exception(message);
