using System.Diagnostics;
using Sockeye.Tests.Protocols;

namespace Sockeye.Tests.Infrastructure;

/// <summary>
/// A third-party client (nc, socat) kept running, as a person at a terminal uses it: lines typed into its standard input
/// go to the server, and what the server sends comes out of its standard output, read here line by line.
/// </summary>
internal sealed class InteractiveTool : IDisposable
{
    private readonly Process _process;

    private InteractiveTool(Process process) => _process = process;

    /// <summary>Starts <paramref name="tool"/>; skips the test when it is not installed, except on CI.</summary>
    public static InteractiveTool Start(string tool, string package, params string[] arguments)
    {
        var info = new ProcessStartInfo(ExternalTool.Require(tool, package))
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

        var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {tool}.");
        process.StandardInput.AutoFlush = true;
        return new InteractiveTool(process);
    }

    public Task SendLineAsync(string line) => _process.StandardInput.WriteAsync(line + "\n");

    /// <summary>The next line the tool printed; null once it has exited.</summary>
    public async Task<string?> ReadLineAsync() => await _process.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken);

    /// <summary>Closes the tool's standard input (end of typing).</summary>
    public void CloseInput() => _process.StandardInput.Close();

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }

        _process.Dispose();
    }
}
