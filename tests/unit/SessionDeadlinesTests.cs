using EchoPS.Net;
using EchoPS.Server;
using EchoPS.Server.Sessions;

namespace EchoPS.Tests
{
    /// <summary>
    /// A session's deadlines on virtual time (EchoPS.Server.Sessions.SessionDeadlines): every limit that ends a session
    /// (idle, send, session cap, slot hold in a receive and in a blocked write), the timeouts a blocking call gets so it
    /// wakes in time, and how often the backlog is looked at. No sockets, no wall clock.
    /// </summary>
    public class SessionDeadlinesTests
    {
        private static long S(double seconds) => SocketTimeouts.Ticks(TimeSpan.FromSeconds(seconds));

        private sealed class Backlog
        {
            internal int Waiting;
            internal int Asked;
            internal int Count() { Asked++; return Waiting; }
        }

        private static SessionDeadlines Start(EchoServerOptions options, Backlog backlog, double at = 0)
        {
            var deadlines = new SessionDeadlines(options, backlog.Count);
            deadlines.Begin(S(at));
            return deadlines;
        }

        private static readonly long None = long.MaxValue;

        [Fact]
        public void The_idle_timeout_ends_a_silent_session_and_restarts_with_every_read()
        {
            var d = Start(new EchoServerOptions { IdleTimeout = TimeSpan.FromSeconds(5), MaxSlotHold = TimeSpan.FromSeconds(60) }, new Backlog());
            Assert.Null(d.BeforeReceive(S(4), S(5), out _));
            d.Read(S(4));
            Assert.Null(d.BeforeReceive(S(8.9), S(5), out _));
            Assert.Equal(DisconnectReason.IdleTimeout, d.BeforeReceive(S(9), S(5), out _));
        }

        [Fact]
        public void The_session_cap_ends_it_in_either_phase_and_bounds_every_call_exactly()
        {
            var d = Start(new EchoServerOptions { MaxSessionDuration = TimeSpan.FromSeconds(3) }, new Backlog());
            Assert.Null(d.BeforeReceive(S(1), S(60), out var timeout));
            Assert.Equal(S(2), timeout);
            d.WriteBegins(S(2.5));
            Assert.Null(d.BeforeSend(S(2.5), false, S(10), out timeout));
            Assert.Equal(S(0.5), timeout);
            Assert.Equal(DisconnectReason.SessionLimit, d.BeforeSend(S(3), true, S(0.5), out _));
            Assert.Equal(DisconnectReason.SessionLimit, d.BeforeReceive(S(3), S(0.5), out _));
        }

        [Fact]
        public void The_send_timeout_bounds_the_whole_write_not_each_send()
        {
            var d = Start(new EchoServerOptions { SendTimeout = TimeSpan.FromSeconds(6), MaxSlotHold = TimeSpan.Zero }, new Backlog());
            d.WriteBegins(S(1));
            Assert.Null(d.BeforeSend(S(1), false, S(6), out var timeout));
            Assert.Equal(SessionDeadlines.Keep, timeout); // the configured timeout is in place
            Assert.Null(d.BeforeSend(S(5), true, S(6), out timeout)); // a partial send after 4 s: 2 s are left
            Assert.Equal(S(2), timeout);
            Assert.Equal(DisconnectReason.SendTimeout, d.BeforeSend(S(7), true, S(2), out _));
        }

        [Fact]
        public void The_slot_hold_limit_ends_a_session_only_while_others_wait_and_looks_once_a_second()
        {
            var backlog = new Backlog();
            var d = Start(new EchoServerOptions { MaxSlotHold = TimeSpan.FromSeconds(10) }, backlog);
            Assert.Null(d.BeforeReceive(S(9.9), S(60), out var timeout));
            Assert.Equal(0, backlog.Asked);
            Assert.True(timeout <= S(10.1 - 9.9) + S(1) && timeout != SessionDeadlines.Keep, "wakes for the check");
            for (double t = 10; t < 15; t += 0.1) // alone: never cut off, the backlog looked at once a second
                Assert.Null(d.BeforeReceive(S(t), S(1), out _));
            Assert.InRange(backlog.Asked, 5, 6);
            backlog.Waiting = 2;
            Assert.Equal(DisconnectReason.SlotHoldLimit, d.BeforeReceive(S(16), S(1), out _));
            Assert.Equal(2, d.Waiting);
        }

        [Theory]
        [InlineData(0)]
        [InlineData(30)]
        public void The_slot_hold_limit_reaches_a_write_blocked_on_a_client_that_does_not_read(double sendTimeoutSec)
        {
            var backlog = new Backlog { Waiting = 1 };
            var d = Start(new EchoServerOptions { MaxSlotHold = TimeSpan.FromSeconds(2), SendTimeout = TimeSpan.FromSeconds(sendTimeoutSec) }, backlog);
            d.WriteBegins(S(0.5));
            Assert.Null(d.BeforeSend(S(0.5), false, sendTimeoutSec == 0 ? None : S(sendTimeoutSec), out var timeout));
            Assert.True(timeout != SessionDeadlines.Keep && timeout <= S(2.5), "the send wakes for the slot-hold check");
            // Woken early (the send timed out under the shortened timeout): not the send timeout, the write goes on.
            Assert.True(d.WokenEarly(timeout, timeout));
            Assert.Equal(DisconnectReason.SlotHoldLimit, d.BeforeSend(S(0.5) + timeout, true, timeout, out _));
        }

        [Fact]
        public void A_timeout_in_place_is_kept_while_it_ends_in_time()
        {
            var d = Start(new EchoServerOptions(), new Backlog()); // idle 60 s, send 10 s, hold 60 s
            Assert.Null(d.BeforeReceive(S(0), S(60), out var timeout));
            Assert.Equal(SessionDeadlines.Keep, timeout); // the listener's 60 s ends with the idle timeout
            Assert.Null(d.BeforeReceive(S(1), S(60), out timeout));
            Assert.Equal(S(30.5), timeout); // it would overrun the idle timeout: set to half-way to the slot-hold check plus its slack
            d.WriteBegins(S(1));
            Assert.Null(d.BeforeSend(S(1), false, S(10), out timeout));
            Assert.Equal(SessionDeadlines.Keep, timeout);
            Assert.False(d.WokenEarly(S(0.2), S(10)), "a send that failed after 0.2 s of a 10 s timeout was not woken early");
            Assert.False(d.WokenEarly(S(5), None));
        }

        [Theory]
        [InlineData(60, 10, 60, 0)]
        [InlineData(5, 2, 3, 0)]
        [InlineData(0, 0, 2, 0)]
        [InlineData(30, 0, 10, 0)]
        [InlineData(10, 5, 4, 7)]
        [InlineData(0, 3, 0, 0)]
        public void Skipping_the_deadlines_while_they_are_not_due_changes_no_answer(int idle, int send, int hold, int session)
        {
            // Two sessions in lockstep over the same random traffic: one asks the deadlines before every call (as
            // the loop did before), the other only when ReceiveDue or SendDue says so (as it does now). Whenever the
            // second skips, the first must have heard "no limit, keep the timeout"; when both ask, they agree.
            var options = new EchoServerOptions
            {
                IdleTimeout = TimeSpan.FromSeconds(idle), SendTimeout = TimeSpan.FromSeconds(send),
                MaxSlotHold = TimeSpan.FromSeconds(hold), MaxSessionDuration = TimeSpan.FromSeconds(session),
            };
            for (int seed = 0; seed < 40; seed++)
            {
                var random = new Random(seed);
                var backlog = new Backlog();
                var always = Start(options, backlog);
                var gated = Start(options, backlog);
                long now = 0, receive = idle == 0 ? None : S(idle), sendTimeout = send == 0 ? None : S(send);
                for (int step = 0; step < 400; step++)
                {
                    now += (long)(S(1) * Math.Pow(random.NextDouble(), 3) * 8);
                    backlog.Waiting = random.Next(10) == 0 ? 1 : 0;
                    bool receiving = random.Next(2) == 0, partial = !receiving && random.Next(4) == 0;
                    if (!receiving && !partial)
                    {
                        always.WriteBegins(now);
                        gated.WriteBegins(now);
                    }
                    var current = receiving ? receive : sendTimeout;
                    var expected = receiving ? always.BeforeReceive(now, current, out var expectedTimeout)
                        : always.BeforeSend(now, partial, current, out expectedTimeout);
                    var due = partial || (receiving ? gated.ReceiveDue(now) : gated.SendDue(now));
                    if (!due)
                    {
                        Assert.True(expected == null && expectedTimeout == SessionDeadlines.Keep, $"seed {seed} step {step}: skipped a change: {receiving} {partial} {expected} {expectedTimeout} {current} {now}");
                    }
                    else
                    {
                        var actual = receiving ? gated.BeforeReceive(now, current, out var timeout) : gated.BeforeSend(now, partial, current, out timeout);
                        Assert.Equal((expected, expectedTimeout), (actual, timeout));
                    }
                    if (expected.HasValue)
                        break;
                    if (expectedTimeout != SessionDeadlines.Keep)
                    {
                        if (receiving) receive = expectedTimeout; else sendTimeout = expectedTimeout;
                    }
                    if (receiving && random.Next(3) > 0)
                    {
                        always.Read(now);
                        gated.Read(now);
                    }
                }
            }
        }
    }
}
