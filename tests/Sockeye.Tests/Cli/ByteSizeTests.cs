using Sockeye.Cli;

namespace Sockeye.Tests.Cli;

public class ByteSizeTests
{
    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("1048576", 1048576)]
    [InlineData("64KiB", 65536)]
    [InlineData("64 kib", 65536)]
    [InlineData("1MiB", 1048576)]
    [InlineData("1.5MiB", 1572864)]
    [InlineData("2G", 2147483648)]
    [InlineData("10B", 10)]
    [InlineData("64Ki", 65536)]
    [InlineData("1Mi", 1048576)]
    public Task Parses_plain_numbers_and_binary_suffixes(string text, long bytes)
    {
        Assert.True(ByteSize.TryParse(text, out var size));
        Assert.Equal(bytes, size.Bytes);
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("1MB", 1_000_000)]
    [InlineData("5 MB", 5_000_000)]
    [InlineData("64kb", 64_000)]
    [InlineData("1.5GB", 1_500_000_000)]
    public Task Parses_decimal_suffixes_as_gnu_coreutils_does(string text, long bytes)
    {
        Assert.True(ByteSize.TryParse(text, out var size));
        Assert.Equal(bytes, size.Bytes);
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("")]
    [InlineData("ten")]
    [InlineData("-5")]
    [InlineData("1.5B")]
    [InlineData("1.5KB5")]
    [InlineData("1XB")]
    [InlineData("99999999999GiB")]
    public Task Rejects_what_is_not_a_size(string text)
    {
        Assert.False(ByteSize.TryParse(text, out _));
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData(1048576, "1MiB")]
    [InlineData(65536, "64KiB")]
    [InlineData(1000, "1KB")]
    [InlineData(1_000_000, "1MB")]
    [InlineData(1_024_000, "1000KiB")]
    [InlineData(1001, "1001")]
    public Task Prints_the_shortest_exact_form(long bytes, string text)
    {
        Assert.Equal(text, new ByteSize(bytes).ToString());
        return Task.CompletedTask;
    }
}
