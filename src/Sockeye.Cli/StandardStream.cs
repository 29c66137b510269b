using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Sockeye.Cli;

/// <summary>
/// Standard output or standard error as a stream that calls write(2) itself, for <c>serve</c>'s handler output and log and <c>send</c>'s replies.
/// The console's own streams hold one lock of the console's (<c>Console.Out</c>) around every write to either: a write
/// blocked on a pipe nobody reads (a pager left alone, a stalled log shipper) would hold every other write to both, so a
/// stalled standard output would silence the log and a stalled standard error would stop the handlers' output.
/// </summary>
/// <remarks>
/// Writes go to the descriptor as the console's streams send them: at the offset it shares with whatever else writes
/// there (a file given as both <c>&gt;out 2&gt;&amp;1</c>), and through poll(2) when whoever started the tool made it
/// non-blocking. A reader that went away is an <see cref="IOException"/> (EPIPE), where the console's streams pretend
/// the write succeeded. Linux only; elsewhere the console's streams.
/// </remarks>
internal sealed partial class StandardStream : Stream
{
    private const string Libc = "libc";
    private const int Eintr = 4;
    private const int Eagain = 11;
    private const short PollOut = 4;

    private readonly int _descriptor;

    private StandardStream(int descriptor) => _descriptor = descriptor;

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public static Stream OpenOutput() => Open(1, Console.OpenStandardOutput);

    public static Stream OpenError() => Open(2, Console.OpenStandardError);

    // Elsewhere on Unix, the descriptor as a file stream: it too reports a reader that went away, where the console's
    // streams pretend the write succeeded; on Windows, the console's.
    private static Stream Open(int descriptor, Func<Stream> console) =>
        OperatingSystem.IsLinux() ? new StandardStream(descriptor)
        : OperatingSystem.IsWindows() ? console()
        : new FileStream(new SafeFileHandle(descriptor, ownsHandle: false), FileAccess.Write, bufferSize: 0);

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            var written = WriteCall(_descriptor, ref MemoryMarshal.GetReference(buffer), (nuint)buffer.Length);
            if (written >= 0)
            {
                buffer = buffer[(int)written..];
                continue;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno == Eagain)
            {
                // Non-blocking: wait until it takes bytes, then write again (which fails anew if something else is wrong).
                var descriptor = new PollDescriptor { Descriptor = _descriptor, Events = PollOut };
                _ = PollCall(ref descriptor, 1, -1);
            }
            else if (errno != Eintr)
            {
                throw new IOException(Marshal.GetPInvokeErrorMessage(errno), errno);
            }
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Flush()
    {
        // Nothing is buffered.
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    [LibraryImport(Libc, EntryPoint = "write", SetLastError = true)]
    private static partial nint WriteCall(int descriptor, ref byte buffer, nuint count);

    [LibraryImport(Libc, EntryPoint = "poll", SetLastError = true)]
    private static partial int PollCall(ref PollDescriptor descriptors, nuint count, int timeout);

    /// <summary>struct pollfd.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct PollDescriptor
    {
        public int Descriptor;
        public short Events;
        public short ReturnedEvents;
    }
}
