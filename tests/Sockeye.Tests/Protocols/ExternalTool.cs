using System.Diagnostics;

namespace Sockeye.Tests.Protocols;

/// <summary>
/// A third-party program run to completion. Missing, the test is skipped, except on CI (<c>CI=true</c>), where
/// <c>eng/install-test-deps.sh</c> installs it and its absence is a failure.
/// </summary>
internal static class ExternalTool
{
    public static bool IsCI => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>The program's full path; skips the test when it is not installed and this is not CI.</summary>
    public static string Require(string tool, string package)
    {
        var path = Environment.GetEnvironmentVariable("PATH")!.Split(':').Select(dir => Path.Combine(dir, tool)).FirstOrDefault(File.Exists);
        if (path is null)
        {
            Assert.False(IsCI, $"{tool} is not installed on CI; eng/install-test-deps.sh should have installed the '{package}' package.");
            Assert.Skip($"{tool} is not installed; install the Debian package '{package}' (eng/install-test-deps.sh does) to run this test.");
        }

        return path;
    }

    public static async Task<(int ExitCode, string Output, string Error)> RunAsync(string path, IEnumerable<string> arguments, string input)
    {
        var info = new ProcessStartInfo(path)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        try
        {
            var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
            var error = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            await process.StandardInput.WriteAsync(input);
            process.StandardInput.Close();
            await process.WaitForExitAsync(TestContext.Current.CancellationToken);
            return (process.ExitCode, await output, await error);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }
    }
}
