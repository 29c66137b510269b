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

    private CliProcess(Process process, Unread unread)
    {
        _process = process;
        if (unread == Unread.StandardOutput)
        {
            // Nobody reads it: once its pipe is full, the tool's writes to it block. Nothing waits for its end either.
            _stdoutClosed.TrySetResult();
        }
        else
        {
            process.OutputDataReceived += (_, e) => Collect(e.Data, _stdout, _stdoutClosed);
            process.BeginOutputReadLine();
        }

        if (unread == Unread.StandardError)
        {
            // Read line by line by StartServerAsync until the tool listens, then by nobody unless ResumeStandardError.
            _stderrClosed.TrySetResult();
        }
        else
        {
            process.ErrorDataReceived += (_, e) => Collect(e.Data, _stderr, _stderrClosed);
            process.BeginErrorReadLine();
        }
    }

    /// <summary>Which of the tool's output streams a test leaves unread, as a stalled reader would: a pager left alone, a stuck log shipper.</summary>
    public enum Unread
    {
        Nothing,
        StandardOutput,
        StandardError,
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
        IReadOnlyDictionary<string, string?>? environment = null,
        Unread unread = Unread.Nothing) =>
        StartProgram("dotnet", [assemblyPath, .. arguments], standardInput, workingDirectory, environment, unread);

    /// <summary>Starts any program as <see cref="StartDotnet"/> starts a .NET one.</summary>
    public static CliProcess StartProgram(
        string program,
        IEnumerable<string> arguments,
        string? standardInput = null,
        string? workingDirectory = null,
        IReadOnlyDictionary<string, string?>? environment = null,
        Unread unread = Unread.Nothing)
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
        return new CliProcess(process, unread);
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
    public static Task<(CliProcess Process, int Port)> StartServerAsync(params string[] arguments) => StartServerAsync(Unread.Nothing, arguments);

    /// <summary>
    /// Starts <c>sockeye serve</c> on a free port and returns it once it listens, leaving one of its output streams
    /// unread: standard output from the start, standard error from its line that says where it listens on.
    /// </summary>
    public static async Task<(CliProcess Process, int Port)> StartServerAsync(Unread unread, params string[] arguments)
    {
        var process = StartDotnet(ToolPath, ["serve", "--port", "0", .. arguments], unread: unread);
        var listening = new Regex(@"^Listening on 127\.0\.0\.1:(\d+)$");
        var match = unread == Unread.StandardError
            ? await process.ReadStandardErrorUntilAsync(listening)
            : await process.WaitForLineAsync(process._stderr, listening);
        return (process, int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Reads standard error again, which <see cref="Unread.StandardError"/> left unread, from where it stopped.</summary>
    public void ResumeStandardError() => _ = ReadStandardErrorAsync();

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

    /// <summary>Reads standard error line by line up to the first that matches <paramref name="pattern"/>, and no further.</summary>
    private async Task<Match> ReadStandardErrorUntilAsync(Regex pattern)
    {
        while (await _process.StandardError.ReadLineAsync(TestContext.Current.CancellationToken) is { } line)
        {
            Collect(line, _stderr, _stderrClosed);
            if (pattern.Match(line) is { Success: true } match)
            {
                return match;
            }
        }

        throw new InvalidOperationException($"The tool closed standard error without a line matching '{pattern}':\n{string.Join('\n', _stderr)}");
    }

    private async Task ReadStandardErrorAsync()
    {
        try
        {
            while (await _process.StandardError.ReadLineAsync(TestContext.Current.CancellationToken) is { } line)
            {
                Collect(line, _stderr, _stderrClosed);
            }
        }
        catch (OperationCanceledException)
        {
            // The test ended.
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
