using FsCheck;
using FsCheck.Fluent;
using Microsoft.FSharp.Core;
using Sockeye.Framing;

namespace Sockeye.Tests.Framing;

/// <summary>
/// Properties, checked by FsCheck with a fixed seed so a failure replays: what a framer writes reads back as the
/// same messages, however the bytes are split between reads.
/// </summary>
public class FramerPropertyTests
{
    // Few distinct bytes, among them every byte the framers treat specially, so that messages are full of near
    // misses: half delimiters, lone carriage returns, lengths that look like headers.
    private static readonly byte[] s_alphabet = [(byte)'a', (byte)'b', (byte)'\r', (byte)'\n', (byte)'<', (byte)'E', (byte)'O', (byte)'F', (byte)'>', 0, 255];

    private static readonly Config s_config = Config.QuickThrowOnFailure
        .WithMaxTest(500)
        .WithReplay(FSharpOption<Replay>.Some(new Replay(new Rnd(20240611UL), FSharpOption<int>.None)));

    [Theory(Timeout = Timeouts.Network)]
    [MemberData(nameof(Framed.All), MemberType = typeof(Framed))]
    public Task What_is_written_reads_back_as_the_same_messages_however_it_is_split(string name)
    {
        var framer = Framed.Create(name);
        var cases =
            from messages in Gen.ListOf(Gen.ArrayOf(Gen.Elements(s_alphabet)).Resize(40)).Resize(8)
            from cuts in Gen.ListOf(Gen.Choose(0, 400)).Resize(12)
            select new Written([.. messages.Where(m => CanFrame(framer, m))], [.. cuts]);

        Prop.ForAll(Arb.From(cases), async written =>
        {
            // A whole-stream framer sees every message written as one.
            byte[][] expected = framer is WholeStreamFramer
                ? [.. new[] { written.Messages.SelectMany(m => m).ToArray() }.Where(m => m.Length > 0)]
                : written.Messages;
            var data = Framed.Frame(framer, written.Messages);
            var outcome = await Framed.ReadAsync(framer, Split(data, written.Cuts), maxMessageSize: 1024);
            return outcome.Error is null && outcome.Messages.Count == expected.Length
                && outcome.Messages.Zip(expected).All(pair => pair.First.AsSpan().SequenceEqual(pair.Second));
        }).Check(s_config);
        return Task.CompletedTask;
    }

    private static bool CanFrame(MessageFramer framer, byte[] message)
    {
        try
        {
            framer.WriteMessage(message, new System.Buffers.ArrayBufferWriter<byte>());
            return true;
        }
        catch (ArgumentException)
        {
            // Holds its own delimiter: not a message this format can carry, so not one to expect back.
            return false;
        }
    }

    private static List<byte[]> Split(byte[] data, int[] cuts)
    {
        var positions = cuts.Select(cut => cut % (data.Length + 1)).Append(0).Append(data.Length).Distinct().Order().ToArray();
        return [.. positions.Zip(positions.Skip(1), (from, to) => data[from..to])];
    }

    public sealed record Written(byte[][] Messages, int[] Cuts)
    {
        public override string ToString() =>
            $"messages [{string.Join(", ", Messages.Select(Convert.ToHexString))}], cuts [{string.Join(", ", Cuts)}]";
    }
}
