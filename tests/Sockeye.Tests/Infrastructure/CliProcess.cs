using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace Sockeye.Tests.Infrastructure;

/// <summary>The built <c>sockeye</c> tool, run as a separate process with its output captured line by line.</summary>
internal sealed partial class CliProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _stdout = new();
    private readonly ConcurrentQueue<string> _stderr = new();
    private readonly SemaphoreSlim _lineArrived = new(0);
    private readonly TaskCompletionSource _stdoutClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private CliProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => Collect(e.Data, _stdout, _stdoutClosed);
        process.ErrorDataReceived += (_, e) => Collect(e.Data, _stderr, _stderrClosed);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public static string ToolPath { get; } = typeof(CliProcess).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "SockeyeCliPath").Value!;

    public IReadOnlyList<string> StandardOutput => [.. _stdout];

    public IReadOnlyList<string> StandardError => [.. _stderr];

    public int Id => _process.Id;

    public static CliProcess Start(params string[] arguments) => Start(arguments, standardInput: null);

    public static CliProcess Start(string[] arguments, string? standardInput) => StartDotnet(ToolPath, arguments, standardInput);

    /// <summary>
    /// Starts a built .NET program as <see cref="Start(string[], string?)"/> starts the tool: the tool itself with another
    /// environment or working folder, or a sample.
    /// </summary>
    public static CliProcess StartDotnet(
        string assemblyPath,
        IEnumerable<string> arguments,
        string? standardInput = null,
        string? workingDirectory = null,
        IReadOnlyDictionary<string, string?>? environment = null) =>
        StartProgram("dotnet", [assemblyPath, .. arguments], standardInput, workingDirectory, environment);

    /// <summary>Starts any program as <see cref="StartDotnet"/> starts a .NET one.</summary>
    public static CliProcess StartProgram(
        string program,
        IEnumerable<string> arguments,
        string? standardInput = null,
        string? workingDirectory = null,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        // Through env(1) so SIGINT has its default disposition even when the test run itself was started in
        // the background, where shells ignore SIGINT and children inherit that.
        var info = new ProcessStartInfo("env")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? string.Empty,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            info.Environment[name] = value;
        }

        info.ArgumentList.Add("--default-signal=INT");
        info.ArgumentList.Add(program);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start the tool.");
        if (standardInput is not null)
        {
            process.StandardInput.Write(standardInput);
        }

        process.StandardInput.Close();
        return new CliProcess(process);
    }

    /// <summary>Runs the tool to completion and returns its exit code.</summary>
    public static async Task<CliProcess> RunAsync(params string[] arguments)
    {
        var process = Start(arguments);
        await process.WaitForExitAsync();
        return process;
    }

    public int ExitCode => _process.ExitCode;

    /// <summary>Waits for the process to exit and for all of its output to be read.</summary>
    public async Task<int> WaitForExitAsync()
    {
        await _process.WaitForExitAsync(TestContext.Current.CancellationToken);
        await Task.WhenAll(_stdoutClosed.Task, _stderrClosed.Task).WaitAsync(TestContext.Current.CancellationToken);
        return _process.ExitCode;
    }

    /// <summary>Waits for a line on standard error that matches <paramref name="pattern"/>, and returns the match.</summary>
    public Task<Match> WaitForStandardErrorAsync(string pattern) => WaitForLineAsync(_stderr, new Regex(pattern));

    /// <summary>Waits for a line on standard output that matches <paramref name="pattern"/>, and returns the match.</summary>
    public Task<Match> WaitForStandardOutputAsync(string pattern) => WaitForLineAsync(_stdout, new Regex(pattern));

    /// <summary>Waits until standard output has at least <paramref name="count"/> lines.</summary>
    public async Task<IReadOnlyList<string>> WaitForStandardOutputLinesAsync(int count)
    {
        while (_stdout.Count < count)
        {
            await WaitForAnyLineAsync();
        }

        return StandardOutput;
    }

    /// <summary>Starts <c>sockeye serve</c> on a free port and returns it once it listens.</summary>
    public static async Task<(CliProcess Process, int Port)> StartServerAsync(params string[] arguments)
    {
        var process = Start(["serve", "--port", "0", .. arguments]);
        var match = await process.WaitForStandardErrorAsync(@"^Listening on 127\.0\.0\.1:(\d+)$");
        return (process, int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Sends a POSIX signal, as a terminal's Ctrl+C (SIGINT) or a service manager (SIGTERM) would.</summary>
    public void Signal(PosixSignal signal) => Signal(_process.Id, signal);

    /// <summary>Sends a POSIX signal to any process, such as one this process's program started.</summary>
    public static void Signal(int processId, PosixSignal signal)
    {
        var number = signal switch
        {
            PosixSignal.SIGINT => 2,
            PosixSignal.SIGTERM => 15,
            _ => throw new ArgumentOutOfRangeException(nameof(signal)),
        };
        if (Kill(processId, number) != 0)
        {
            throw new InvalidOperationException($"kill({processId}, {number}) failed: {Marshal.GetLastPInvokeError()}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    private async Task<Match> WaitForLineAsync(ConcurrentQueue<string> lines, Regex pattern)
    {
        while (true)
        {
            foreach (var line in lines)
            {
                if (pattern.Match(line) is { Success: true } match)
                {
                    return match;
                }
            }

            if (_process.HasExited && _stdoutClosed.Task.IsCompleted && _stderrClosed.Task.IsCompleted)
            {
                throw new InvalidOperationException(
                    $"The tool exited ({_process.ExitCode}) without printing a line matching '{pattern}'. stdout:\n{string.Join('\n', _stdout)}\nstderr:\n{string.Join('\n', _stderr)}");
            }

            await WaitForAnyLineAsync();
        }
    }

    // Every line, and the end of each stream, releases one waiter; callers re-check their condition.
    private Task WaitForAnyLineAsync() => _lineArrived.WaitAsync(TestContext.Current.CancellationToken);

    private void Collect(string? line, ConcurrentQueue<string> lines, TaskCompletionSource closed)
    {
        if (line is null)
        {
            closed.TrySetResult();
        }
        else
        {
            lines.Enqueue(line);
        }

        _lineArrived.Release();
    }
}
