using System.Diagnostics;

namespace Sockeye.Tests.Infrastructure;

/// <summary>Real clients that are not ours (socat, OpenBSD netcat), run with input and their output captured.</summary>
internal static class ThirdPartyTool
{
    /// <summary>Runs <paramref name="tool"/> with <paramref name="input"/> on standard input; skips the test when it is not installed.</summary>
    public static async Task<string> RunAsync(string tool, string[] arguments, string input)
    {
        var path = Environment.GetEnvironmentVariable("PATH")!.Split(':').Select(dir => Path.Combine(dir, tool)).FirstOrDefault(File.Exists);
        Assert.SkipWhen(path is null, $"{tool} is not installed (.ci/run installs it)");

        var info = new ProcessStartInfo(path!) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        await process.StandardInput.WriteAsync(input);
        process.StandardInput.Close();
        var output = await process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        return output;
    }
}
