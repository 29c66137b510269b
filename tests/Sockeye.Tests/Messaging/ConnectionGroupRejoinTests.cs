using System.IO.Pipelines;
using System.Text;
using Sockeye.Messaging;

namespace Sockeye.Tests.Messaging;

/// <summary>
/// A broadcast against a member that moves to a later slot while the broadcast walks the slots (9810d15): run step by
/// step on one thread, where ConnectionGroupTests' churn test catches it only now and then (a member with 183 lines for
/// 182 distinct).
/// </summary>
public class ConnectionGroupRejoinTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact(Timeout = Timeouts.Fast)]
    public async Task A_member_that_leaves_and_joins_a_later_slot_during_a_broadcast_gets_the_message_once()
    {
        var group = new ConnectionGroup();
        var (a, b, c, d, e) = (new InlineMember(1), new InlineMember(2), new InlineMember(3), new InlineMember(4), new InlineMember(5));
        Assert.All(new[] { a, b, c, d }, member => Assert.True(group.Add(member)));

        // A, B and C hold slots 0 to 2; D's leaving frees slot 3, which a broadcast still walks.
        Assert.True(group.Remove(d));
        var moved = false;
        c.AfterNextPush = () =>
        {
            // The broadcast has queued the message for B and is at C. B leaves (its slot 1 goes on the free list, above
            // slot 3), E joins into slot 1, and B joins again into slot 3, which the broadcast has yet to reach.
            Assert.True(group.Remove(b));
            Assert.True(group.Add(e));
            Assert.True(group.Add(b));
            moved = true;
        };

        var queued = await group.BroadcastAsync("hello\n"u8.ToArray(), cancellationToken: Token);

        Assert.True(moved);
        Assert.Equal(new Connection[] { a, e, c, b }, group);
        Assert.Equal("hello\n", b.Received());
        Assert.Equal("hello\n", a.Received());
        Assert.Equal("hello\n", c.Received());
        Assert.Equal(3, queued);
    }

    /// <summary>
    /// A member whose push queue drains at once, on the broadcasting thread, into a pipe the test reads; and that can run
    /// a step of the test's in the middle of a broadcast, right after the broadcast has queued a message for it.
    /// </summary>
    private sealed class InlineMember : Connection, IDuplexPipe
    {
        private readonly Pipe _toClient = new(new PipeOptions(useSynchronizationContext: false));
        private readonly Pipe _toServer = new(new PipeOptions(useSynchronizationContext: false));
        private readonly GuardedPipeWriter _output;

        public InlineMember(long id)
            : base(id, null)
        {
            _output = new GuardedPipeWriter(_toClient.Writer);
            Transport = this;
            OnHandlerStarting();
        }

        /// <summary>Runs once, the next time a message is queued for this member, after it is written.</summary>
        public Action? AfterNextPush { get; set; }

        public override long BytesReceived => 0;

        public override long BytesSent => 0;

        PipeReader IDuplexPipe.Input => _toServer.Reader;

        PipeWriter IDuplexPipe.Output => _output;

        private protected override long MaxMessageSizeCore => 1024;

        /// <summary>What was written for the client so far, and not read yet.</summary>
        public string Received()
        {
            if (!_toClient.Reader.TryRead(out var result))
            {
                return "";
            }

            var text = Encoding.ASCII.GetString(result.Buffer);
            _toClient.Reader.AdvanceTo(result.Buffer.End);
            return text;
        }

        internal override void ScheduleOutbound(OutboundQueue drain)
        {
            // Inline, where a server queues the drain elsewhere: a pipe's flush completes at once, so the drain ends
            // before this returns, and the next message queued for this member schedules a drain again.
            drain.Execute();
            var step = AfterNextPush;
            AfterNextPush = null;
            step?.Invoke();
        }

        private protected override void AbortCore()
        {
        }
    }
}
