using EchoPS.Net;
using EchoPS.Server;
using EchoPS.Server.Sessions;

namespace EchoPS.Tests
{
    /// <summary>When a lingering close is over (EchoPS.Server.Sessions.LingerRule), on virtual time.</summary>
    public class LingerRuleTests
    {
        private static long S(double seconds) => SocketTimeouts.Ticks(TimeSpan.FromSeconds(seconds));

        [Fact]
        public void A_client_that_keeps_reading_keeps_the_linger_going_past_two_seconds()
        {
            var rule = new LingerRule(new EchoServerOptions(), 0); // send timeout 10 s, idle 60 s
            int unacked = 600000;
            for (double t = 0; t < 20; t += 0.5)
            {
                Assert.False(rule.IsOver(S(t), unacked, quiet: false, stopping: false, stopDeadline: long.MaxValue));
                unacked -= 10000; // reads slowly, and keeps sending
            }
        }

        [Fact]
        public void A_client_that_stopped_reading_ends_it_after_the_send_timeout_without_progress()
        {
            var rule = new LingerRule(new EchoServerOptions { SendTimeout = TimeSpan.FromSeconds(3) }, 0);
            Assert.False(rule.IsOver(S(0), 5000, false, false, long.MaxValue));
            Assert.False(rule.IsOver(S(1), 4000, false, false, long.MaxValue));
            Assert.False(rule.IsOver(S(3.9), 4000, false, false, long.MaxValue));
            Assert.True(rule.IsOver(S(4), 4000, false, false, long.MaxValue));
            Assert.Equal(3999, LingerRule.Lost(4000)); // the FIN counts one
            Assert.Equal(0, LingerRule.Lost(1));
            Assert.Equal(0, LingerRule.Lost(null));
        }

        [Fact]
        public void The_idle_timeout_bounds_a_whole_linger()
        {
            var rule = new LingerRule(new EchoServerOptions { IdleTimeout = TimeSpan.FromSeconds(5) }, 0);
            Assert.False(rule.IsOver(S(4.9), 100, false, false, long.MaxValue));
            Assert.True(rule.IsOver(S(5), 99, false, false, long.MaxValue));
        }

        [Fact]
        public void Everything_acknowledged_ends_it_when_quiet_or_two_seconds_later()
        {
            var rule = new LingerRule(new EchoServerOptions(), 0);
            Assert.True(rule.IsOver(S(0.1), 0, quiet: true, stopping: false, stopDeadline: long.MaxValue));
            rule = new LingerRule(new EchoServerOptions(), 0);
            Assert.False(rule.IsOver(S(1), 0, false, false, long.MaxValue));
            Assert.False(rule.IsOver(S(2.9), 0, false, false, long.MaxValue));
            Assert.True(rule.IsOver(S(3), 0, false, false, long.MaxValue));
        }

        [Fact]
        public void Without_the_system_saying_it_lasts_two_seconds()
        {
            var rule = new LingerRule(new EchoServerOptions(), 0);
            Assert.False(rule.IsOver(S(1.9), null, true, false, long.MaxValue));
            Assert.True(rule.IsOver(S(2), null, true, false, long.MaxValue));
        }

        [Fact]
        public void A_stop_ends_it_at_its_grace_or_once_everything_is_acknowledged()
        {
            var rule = new LingerRule(new EchoServerOptions(), 0);
            Assert.False(rule.IsOver(S(0.1), 500, false, true, S(0.25)));
            Assert.True(rule.IsOver(S(0.25), 500, false, true, S(0.25)));
            Assert.True(new LingerRule(new EchoServerOptions(), 0).IsOver(S(0.01), 0, false, true, S(0.25)));
        }

        [Fact]
        public void It_gives_way_to_a_waiting_client_only_after_two_seconds()
        {
            var rule = new LingerRule(new EchoServerOptions(), S(10));
            Assert.False(rule.MayYield(S(11.9)));
            Assert.True(rule.MayYield(S(12)));
        }
    }
}
