namespace Sockeye.Soak;

/// <summary>The server process as the kernel sees it: descriptors, threads, resident memory.</summary>
internal sealed record ProcessSample(int Descriptors, int Sockets, int Threads, long RssBytes)
{
    /// <summary>What the descriptors other than sockets are, by target: a growth's explanation.</summary>
    public static string DescribeOthers(int pid) => string.Join(", ", Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd")
        .Select(fd => { try { return new FileInfo(fd).LinkTarget ?? "?"; } catch (IOException) { return "?"; } })
        .Where(target => !target.StartsWith("socket:", StringComparison.Ordinal))
        .Select(target => target.StartsWith("anon_inode:", StringComparison.Ordinal) || target.StartsWith("pipe:", StringComparison.Ordinal) ? target.Split('[')[0] : target)
        .GroupBy(target => target)
        .OrderByDescending(group => group.Count())
        .Select(group => $"{group.Key} x{group.Count()}"));

    public static ProcessSample Of(int pid)
    {
        var descriptors = 0;
        var sockets = 0;
        foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
        {
            descriptors++;
            try
            {
                if (new FileInfo(fd).LinkTarget?.StartsWith("socket:", StringComparison.Ordinal) == true)
                {
                    sockets++;
                }
            }
            catch (IOException)
            {
                // Closed between the listing and the look: it no longer counts.
                descriptors--;
            }
        }

        int threads = 0;
        long rss = 0;
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("Threads:", StringComparison.Ordinal))
            {
                threads = int.Parse(line.AsSpan(8).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                rss = long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
        }

        return new ProcessSample(descriptors, sockets, threads, rss);
    }
}
