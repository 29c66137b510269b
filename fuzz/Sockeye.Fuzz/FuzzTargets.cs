namespace Sockeye.Fuzz;

/// <summary>
/// Every fuzz target by name: what <c>fuzz/run --list</c> prints. A target's seed corpus is
/// <c>fuzz/corpus/NAME/</c>; the inputs of crashes found and fixed stay there too, and the tests run them all.
/// </summary>
public static class FuzzTargets
{
    public delegate void Target(ReadOnlySpan<byte> data);

    public static IReadOnlyList<(string Name, Target Run)> All { get; } =
    [
        ("proxy-v1", ProxyHeaderTarget.V1),
        ("proxy-v2", ProxyHeaderTarget.V2),
        ("framing-line", FramingTarget.Line),
        ("framing-delimiter", FramingTarget.Delimiter),
        ("framing-length-prefix", FramingTarget.LengthPrefix),
        ("framing-whole-stream", FramingTarget.WholeStream),
        ("json", JsonTarget.Run),
        ("resp", RespTarget.Run),
        ("config-url", ConfigurationTarget.Url),
        ("config-size", ConfigurationTarget.Size),
    ];

    public static Target? Find(string name) => All.FirstOrDefault(target => target.Name == name).Run;
}
