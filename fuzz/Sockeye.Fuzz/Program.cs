using SharpFuzz;
using Sockeye.Framing;
using Sockeye.Fuzz;

// The entry point fuzz/run drives (see README.md beside this file):
//   Sockeye.Fuzz --list                 the targets, one per line
//   Sockeye.Fuzz TARGET                 one target under afl-fuzz (SharpFuzz's out-of-process loop)
//   Sockeye.Fuzz TARGET --libfuzzer     one target under libfuzzer-dotnet
//   Sockeye.Fuzz TARGET FILE...         runs the target on each file once: reproduces a finding
if (args is ["--list"])
{
    foreach (var (name, _) in FuzzTargets.All)
    {
        Console.WriteLine(name);
    }

    return 0;
}

if (args.Length == 0 || FuzzTargets.Find(args[0]) is not { } target)
{
    Console.Error.WriteLine($"usage: Sockeye.Fuzz TARGET [--libfuzzer | FILE...]; the targets: {string.Join(", ", FuzzTargets.All.Select(t => t.Name))}");
    return 2;
}

if (args is [_])
{
    Fuzzer.OutOfProcess.Run(stream =>
    {
        // SharpFuzz's child process reads its first input before afl-fuzz says go, so on a busy machine it can read
        // the input file before afl-fuzz has written the first seed, and find it empty. A target that returns before
        // the library for a short input then leaves afl-fuzz's dry run no coverage, and afl-fuzz gives up ("No
        // instrumentation detected"). Every run therefore reaches the instrumented library first: a constant edge.
        _ = new LineFramer();

        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        target(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
    });
    return 0;
}

if (args is [_, "--libfuzzer"])
{
    Fuzzer.LibFuzzer.Run(span => target(span));
    return 0;
}

var failed = 0;
foreach (var file in args.Skip(1))
{
    try
    {
        target(File.ReadAllBytes(file));
        Console.WriteLine($"ok    {file}");
    }
    catch (Exception error)
    {
        failed++;
        Console.WriteLine($"FAIL  {file}: {error}");
    }
}

return failed == 0 ? 0 : 1;
