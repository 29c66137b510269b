namespace Sockeye.Tests.Robustness;

/// <summary>
/// Tests that hold thousands of sockets or move hundreds of MiB run one at a time, after the rest: each may need
/// most of the process's file descriptors, and sharing two cores with them would make them slow, not wrong.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LoadGroup
{
    public const string Name = "Load";
}
