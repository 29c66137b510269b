namespace Sockeye.Peers;

/// <summary>
/// The lines the seed and its companion server print, written as one string per event so a report is one write.
/// Every peer prints them for eof-echo and print, as <c>sockeye serve</c> does, so all do the same work.
/// </summary>
internal static class SeedReport
{
    public const string Delimiter = "<EOF>";

    public static void Received(int bytes, string text) => Console.Out.Write($"Read {bytes} bytes from socket.\n Data : {text}\n");

    public static void Sent(int bytes) => Console.Out.Write($"Sent {bytes} bytes to client.\n");
}
