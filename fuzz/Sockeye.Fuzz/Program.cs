using SharpFuzz;
using Sockeye.Fuzz;

// An entry point for SharpFuzz (see README.md beside this file): libFuzzer by default, AFL with "afl".
if (args is ["afl"])
{
    Fuzzer.OutOfProcess.Run(stream =>
    {
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        FramingTarget.Run(buffer.ToArray());
    });
}
else
{
    Fuzzer.LibFuzzer.Run(FramingTarget.Run);
}
