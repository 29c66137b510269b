using Sockeye.Framing;
using Sockeye.Handlers;

namespace Sockeye.Cli.Handlers;

/// <summary>What a handler of the tool is made from: where it reports, the message format chosen, and the delimiter.</summary>
/// <param name="Output">Where handlers report what they received and sent (standard output).</param>
/// <param name="Framer">The message format of <c>--framing</c>; <see langword="null"/> for none.</param>
/// <param name="Delimiter">The text of <c>--delimiter</c>.</param>
internal sealed record HandlerSettings(HandlerOutput Output, MessageFramer? Framer, string Delimiter)
{
    /// <summary>The relay's clients: one group for every listener that relays.</summary>
    public ConnectionGroup Relayed { get; } = new();
}

/// <summary>A handler <c>sockeye serve --handler NAME</c> offers.</summary>
/// <param name="Name">Its name on the command line and in configuration.</param>
/// <param name="Description">What it does, for <c>--help</c>.</param>
/// <param name="Create">Makes it from the settings; called once per listener that uses it.</param>
/// <param name="TakesFraming">Whether <c>--framing</c> applies to it.</param>
/// <param name="DefaultFraming">
/// Its <c>--framing</c> when no source gives one, for a handler that works on messages only (and never takes <c>none</c>);
/// <see langword="null"/> for <c>none</c>.
/// </param>
internal sealed record ToolHandler(
    string Name, string Description, Func<HandlerSettings, ConnectionHandler> Create, bool TakesFraming = true, string? DefaultFraming = null)
{
    /// <summary>Whether it works on messages only, so <c>--framing none</c> makes no sense for it.</summary>
    public bool NeedsFraming => DefaultFraming is not null;
}

/// <summary>The handlers <c>sockeye serve</c> offers: a new one is one line here.</summary>
internal static class ToolHandlers
{
    public const string Print = "print";
    public const string EofEcho = "eof-echo";
    public const string Echo = "echo";
    public const string Relay = "relay";

    public static IReadOnlyList<ToolHandler> All { get; } =
    [
        new(Print, "the seed, prints what each client sent once it ends its side",
            settings => settings.Framer is null ? new PrintHandler(settings.Output) : new PrintHandler(settings.Output, settings.Framer)),
        new(EofEcho, "the companion, echoes one message ending in the delimiter",
            settings => new EofEchoHandler(settings.Output, settings.Delimiter), TakesFraming: false),
        new(Echo, "sends every byte back, or with --framing each message",
            settings => settings.Framer is null ? new EchoHandler() : new EchoHandler(settings.Framer)),
        new(Relay, "sends each message a client sends to every other client, line by line unless --framing says otherwise",
            settings => new RelayHandler(settings.Framer!, settings.Relayed), DefaultFraming: "line"),
    ];

    public static string[] Names => [.. All.Select(handler => handler.Name)];

    /// <summary>The names as a sentence: <c>print, eof-echo, echo and relay</c>.</summary>
    public static string NameList => string.Join(", ", Names[..^1]) + " and " + Names[^1];

    public static ToolHandler? Find(string? name) => All.FirstOrDefault(handler => handler.Name == name);
}
