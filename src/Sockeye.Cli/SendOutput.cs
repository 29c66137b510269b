using System.Buffers;
using Sockeye.Cli.Handlers;

namespace Sockeye.Cli;

/// <summary>
/// Where <c>send</c> prints replies: standard output, each reply as one line, <c>Response received : TEXT</c>, TEXT
/// escaped as <c>serve --output text</c> escapes a client's bytes, so that no server can drive the terminal or forge a line.
/// </summary>
/// <remarks>
/// On Unix it writes to descriptor 1 itself (<see cref="StandardStream"/>): the console stream pretends a write to a
/// closed pipe succeeded, so <c>send ... | head</c> would never learn that its reader is gone.
/// </remarks>
internal sealed class ReplyOutput
{
    private readonly Stream _stdout = StandardStream.OpenOutput();

    /// <summary>Prints one reply.</summary>
    /// <exception cref="StandardOutputClosedException">Standard output is closed (its reader is gone).</exception>
    public void Print(ReadOnlySpan<byte> reply)
    {
        var line = new ArrayBufferWriter<byte>(reply.Length + 32);
        line.Write("Response received : "u8);
        TextFormat.WriteText(line, reply);
        line.Write("\n"u8);
        try
        {
            _stdout.Write(line.WrittenSpan);
            _stdout.Flush();
        }
        catch (IOException ex)
        {
            throw new StandardOutputClosedException(ex);
        }
    }
}

/// <summary>Standard output can no longer be written: whoever read it is gone.</summary>
internal sealed class StandardOutputClosedException(Exception inner) : Exception("Standard output is closed.", inner);

/// <summary>Standard input for <c>send -</c>.</summary>
internal static class StandardInput
{
    /// <summary>Opens standard input.</summary>
    /// <exception cref="CliException">It is closed: there is nothing to send.</exception>
    public static Stream Open()
    {
        if (OperatingSystem.IsLinux() && !IsOpen())
        {
            throw new CliException("Standard input is closed; '-' sends standard input, so give it some (a file, a pipe) or pass the message as an argument.", ExitCodes.Usage);
        }

        return Console.OpenStandardInput();
    }

    /// <summary>Reads all of standard input, up to <paramref name="maximum"/> bytes.</summary>
    /// <exception cref="CliException">It holds more.</exception>
    public static async Task<byte[]> ReadAllAsync(Stream input, long maximum, CancellationToken cancellationToken)
    {
        var read = new ArrayBufferWriter<byte>();
        int count;
        while ((count = await input.ReadAsync(read.GetMemory(64 * 1024), cancellationToken)) > 0)
        {
            read.Advance(count);
            if (read.WrittenCount > maximum)
            {
                throw new CliException($"Standard input holds more than {maximum / (1024 * 1024)} MiB, the most a framed message read from it may hold.");
            }
        }

        return read.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Whether descriptor 0 is the standard input this process was given. Started with it closed, the runtime's own
    /// first descriptor takes its number: a pipe whose writing end the runtime holds too, so reading it would wait for
    /// ever.
    /// </summary>
    private static bool IsOpen()
    {
        try
        {
            var target = File.ResolveLinkTarget("/proc/self/fd/0", returnFinalTarget: false)?.FullName;
            if (target is null)
            {
                return true;
            }

            var name = Path.GetFileName(target);
            if (name.StartsWith("anon_inode:", StringComparison.Ordinal))
            {
                return false;
            }

            if (!name.StartsWith("pipe:", StringComparison.Ordinal))
            {
                return true;
            }

            // The same pipe open for writing in this process: its own.
            foreach (var fd in Directory.EnumerateFiles("/proc/self/fd"))
            {
                if (Path.GetFileName(fd) != "0"
                    && File.ResolveLinkTarget(fd, returnFinalTarget: false) is { } other
                    && Path.GetFileName(other.FullName) == name
                    && IsWriteOnly(Path.GetFileName(fd)))
                {
                    return false;
                }
            }

            return true;
        }
        catch (IOException)
        {
            // No /proc/self/fd/0 at all: closed.
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return true;
        }
    }

    private static bool IsWriteOnly(string fd)
    {
        try
        {
            var flags = File.ReadLines($"/proc/self/fdinfo/{fd}").FirstOrDefault(line => line.StartsWith("flags:", StringComparison.Ordinal));
            return flags is not null && (Convert.ToInt32(flags["flags:".Length..].Trim(), 8) & 3) == 1;
        }
        catch (IOException)
        {
            return false;
        }
    }
}
