extern alias bench;

using System.Text;
using bench::Sockeye.Cli.Bench;

namespace Sockeye.Tests.Cli.Bench;

/// <summary>
/// The checks behind <c>sockeye bench broadcast</c>'s numbers: a message a subscriber takes must be exactly what its
/// publisher sent, and the next one from that publisher; anything lost, corrupt, cut, doubled or reordered is an error.
/// </summary>
public class BroadcastCheckTests
{
    private const int Publishers = 3;

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData(32)]
    [InlineData(1024)]
    public Task A_message_reads_back_as_its_publisher_sequence_and_time(int size)
    {
        var queuedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        var line = Message(size, publisher: 2, sequence: 123_456, queuedAt);

        Assert.Equal(size, line.Length);
        Assert.Equal((byte)'\n', line[^1]);
        Assert.Equal(1, line.Count(b => b == (byte)'\n'));
        Assert.Null(BroadcastMessage.Read(line, Publishers, out var publisher, out var sequence, out var readAt));
        Assert.Equal(2, publisher);
        Assert.Equal(123_456, sequence);
        // The time travels in 100 ns units: never later than it was, and less than a unit earlier.
        Assert.InRange(queuedAt - readAt, 0, System.Diagnostics.Stopwatch.Frequency / 10_000_000 + 1);
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(20)]
    [InlineData(500)]
    [InlineData(1014)]
    public Task Any_changed_byte_makes_the_message_corrupt(int position)
    {
        var line = Message(1024, publisher: 1, sequence: 77, 12_345);
        line[position] = line[position] == (byte)'a' ? (byte)'b' : (byte)'a';

        var error = BroadcastMessage.Read(line, Publishers, out _, out _, out _);

        Assert.NotNull(error);
        Assert.Contains("corrupt", error, StringComparison.Ordinal);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task A_message_cut_short_or_run_into_the_next_is_an_error()
    {
        var line = Message(64, publisher: 0, sequence: 1, 1);
        var cut = new byte[64];
        line.AsSpan(0, 40).CopyTo(cut);
        cut[39] = (byte)'\n';
        line.AsSpan(0, 24).CopyTo(cut.AsSpan(40));

        Assert.Contains("of 40 bytes", BroadcastMessage.Read(cut, Publishers, out _, out _, out _), StringComparison.Ordinal);
        var joined = (byte[])line.Clone();
        joined[^1] = (byte)'x';
        Assert.Contains("longer than 64", BroadcastMessage.Read(joined, Publishers, out _, out _, out _), StringComparison.Ordinal);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task A_message_from_a_publisher_that_does_not_exist_is_an_error()
    {
        var line = Message(32, publisher: Publishers, sequence: 0, 1);

        Assert.NotNull(BroadcastMessage.Read(line, Publishers, out _, out _, out _));
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task Each_publishers_messages_must_follow_on_from_the_last()
    {
        var order = new DeliveryOrder(Publishers);

        Assert.Null(order.Accept(0, 0));
        Assert.Null(order.Accept(1, 0));
        Assert.Null(order.Accept(0, 1));
        Assert.Null(order.Accept(1, 1));
        Assert.Contains("lost messages 2-3 of publisher 0", order.Accept(0, 4), StringComparison.Ordinal);
        Assert.Contains("out of order or twice", order.Accept(1, 1), StringComparison.Ordinal);
        Assert.Contains("out of order or twice", order.Accept(1, 0), StringComparison.Ordinal);
        Assert.Equal(0, order.LateJoins);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task A_subscriber_may_join_a_publishers_stream_late_once_and_is_counted()
    {
        var order = new DeliveryOrder(Publishers);

        Assert.Null(order.Accept(2, 40));
        Assert.Null(order.Accept(2, 41));
        Assert.Equal(1, order.LateJoins);
        Assert.Equal(41, order.Last(2));
        Assert.Equal(-1, order.Last(0));
        Assert.NotNull(order.Accept(2, 43));
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task Messages_are_text_a_line_framed_server_relays_as_they_are()
    {
        var line = Message(48, publisher: 1, sequence: 9, 99);
        var text = Encoding.ASCII.GetString(line, 0, line.Length - 1);

        Assert.All(text, c => Assert.True(char.IsAsciiLetterOrDigit(c), $"'{c}' in {text}"));
        return Task.CompletedTask;
    }

    private static byte[] Message(int size, int publisher, long sequence, long queuedAt)
    {
        var line = new byte[size];
        BroadcastMessage.Write(line, publisher, sequence, queuedAt);
        return line;
    }
}
