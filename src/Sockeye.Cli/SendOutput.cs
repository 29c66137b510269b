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
    // How much of a reply that arrives in pieces is escaped and written at a time.
    private const int PartSize = 64 * 1024;

    private readonly Stream _stdout = StandardStream.OpenOutput();

    // What is being written: a reply, or a part of one (at most a part's bytes), escaped.
    private readonly ArrayBufferWriter<byte> _line = new(4 * PartSize + 32);

    // The bytes of a character that the last part cut short: at most three.
    private readonly byte[] _carry = new byte[3];
    private int _carried;

    // Whether a reply's line is begun and not yet ended.
    private bool _open;

    /// <summary>Prints one reply.</summary>
    /// <exception cref="StandardOutputClosedException">Standard output is closed (its reader is gone).</exception>
    public void Print(ReadOnlySpan<byte> reply) => Write(reply, end: true);

    /// <summary>
    /// Prints the next part of a reply that arrives in pieces, escaped as the whole reply would be: a character cut
    /// short at the end of <paramref name="part"/> waits for the next part. <see cref="EndReply"/> ends the line.
    /// </summary>
    /// <exception cref="StandardOutputClosedException">Standard output is closed (its reader is gone).</exception>
    public void PrintPart(in ReadOnlySequence<byte> part)
    {
        var rented = ArrayPool<byte>.Shared.Rent(PartSize + _carry.Length);
        try
        {
            foreach (var piece in part)
            {
                for (var rest = piece.Span; !rest.IsEmpty;)
                {
                    var next = rest[..Math.Min(rest.Length, PartSize)];
                    _carry.AsSpan(0, _carried).CopyTo(rented);
                    next.CopyTo(rented.AsSpan(_carried));
                    var bytes = rented.AsSpan(0, _carried + next.Length);
                    var whole = WholeCharacters(bytes);
                    _carried = bytes.Length - whole;
                    bytes[whole..].CopyTo(_carry);
                    Write(bytes[..whole], end: false);
                    rest = rest[next.Length..];
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Ends the line of a reply printed in parts (an empty reply's, when none was printed).</summary>
    /// <exception cref="StandardOutputClosedException">Standard output is closed (its reader is gone).</exception>
    public void EndReply()
    {
        Write(_carry.AsSpan(0, _carried), end: true);
        _carried = 0;
    }

    private void Write(ReadOnlySpan<byte> text, bool end)
    {
        var line = _line;
        line.ResetWrittenCount();
        if (!_open)
        {
            line.Write("Response received : "u8);
            _open = true;
        }

        TextFormat.WriteText(line, text);
        if (end)
        {
            line.Write("\n"u8);
            _open = false;
        }

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

    /// <summary>
    /// How many bytes <paramref name="bytes"/> holds before a UTF-8 character cut short at its end, which the next
    /// bytes may complete: all of them when none is.
    /// </summary>
    private static int WholeCharacters(ReadOnlySpan<byte> bytes)
    {
        for (var back = 1; back <= Math.Min(3, bytes.Length); back++)
        {
            var b = bytes[^back];
            if ((b & 0xC0) == 0x80)
            {
                // A continuation byte: its character starts further back.
                continue;
            }

            var length = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
            return length > back ? bytes.Length - back : bytes.Length;
        }

        return bytes.Length;
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
