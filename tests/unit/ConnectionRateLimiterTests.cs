using System.Collections.Generic;
using System.Linq;
using System.Net;
using EchoPS.LockDown;

namespace EchoPS.Tests
{
    /// <summary>The connection rate limiter with an injected clock: its 60-second window, its sweep and its two scopes.</summary>
    public class ConnectionRateLimiterTests
    {
        private static readonly DateTime T0 = TestClock.T0;
        private static readonly IPAddress A = IPAddress.Parse("192.0.2.1");
        private static readonly IPAddress B = IPAddress.Parse("192.0.2.2");

        [Fact]
        public void No_limit_set_admits_everything_and_remembers_no_source()
        {
            var limiter = new ConnectionRateLimiter(0, 0);
            Assert.False(limiter.IsActive);
            for (int i = 0; i < 1000; i++)
                Assert.True(limiter.TryAdmit(A, T0, out var refusal), refusal);
            Assert.Equal(0, limiter.TrackedSources);
        }

        [Fact]
        public void Per_source_limit_refuses_the_next_connection_within_60_seconds_and_names_the_source()
        {
            var limiter = new ConnectionRateLimiter(3, 0);
            Assert.True(limiter.IsActive);
            for (int i = 0; i < 3; i++)
                Assert.True(limiter.TryAdmit(A, T0.AddSeconds(i), out _));
            Assert.False(limiter.TryAdmit(A, T0.AddSeconds(59.999), out var refusal));
            Assert.Equal("more than 3 connections in a minute from 192.0.2.1", refusal);
            // Another source has its own allowance.
            Assert.True(limiter.TryAdmit(B, T0.AddSeconds(59.999), out _));
        }

        [Fact]
        public void The_window_is_exactly_60_seconds_sliding_from_each_admission()
        {
            var limiter = new ConnectionRateLimiter(2, 0);
            Assert.True(limiter.TryAdmit(A, T0, out _));
            Assert.True(limiter.TryAdmit(A, T0.AddSeconds(30), out _));
            Assert.False(limiter.TryAdmit(A, T0.AddSeconds(60).AddTicks(-1), out _));
            // The first admission leaves the window at exactly 60 s; the second one is still in it.
            Assert.True(limiter.TryAdmit(A, T0.AddSeconds(60), out _));
            Assert.False(limiter.TryAdmit(A, T0.AddSeconds(89), out _));
            Assert.True(limiter.TryAdmit(A, T0.AddSeconds(90), out _));
        }

        [Fact]
        public void A_refused_connection_is_not_counted_so_a_retrying_client_gets_in_once_its_window_clears()
        {
            var limiter = new ConnectionRateLimiter(1, 0);
            Assert.True(limiter.TryAdmit(A, T0, out _));
            for (int s = 1; s < 60; s++)
                Assert.False(limiter.TryAdmit(A, T0.AddSeconds(s), out _));
            Assert.True(limiter.TryAdmit(A, T0.AddSeconds(60), out _));
        }

        [Fact]
        public void Overall_limit_counts_all_sources_together()
        {
            var limiter = new ConnectionRateLimiter(0, 2);
            Assert.True(limiter.TryAdmit(A, T0, out _));
            Assert.True(limiter.TryAdmit(B, T0.AddSeconds(1), out _));
            Assert.False(limiter.TryAdmit(IPAddress.Parse("198.51.100.7"), T0.AddSeconds(2), out var refusal));
            Assert.Equal("more than 2 connections in a minute from all sources", refusal);
            Assert.True(limiter.TryAdmit(A, T0.AddSeconds(60), out _));
        }

        [Fact]
        public void A_connection_refused_overall_does_not_use_up_its_source_allowance()
        {
            var limiter = new ConnectionRateLimiter(1, 1);
            Assert.True(limiter.TryAdmit(A, T0, out _));
            Assert.False(limiter.TryAdmit(B, T0.AddSeconds(1), out var refusal));
            Assert.Contains("all sources", refusal);
            // Once the overall window clears, B's own allowance is still whole.
            Assert.True(limiter.TryAdmit(B, T0.AddSeconds(60), out _));
        }

        [Fact]
        public void An_IPv4_mapped_source_counts_as_the_IPv4_address_it_is()
        {
            var limiter = new ConnectionRateLimiter(1, 0);
            Assert.True(limiter.TryAdmit(A, T0, out _));
            Assert.False(limiter.TryAdmit(A.MapToIPv6(), T0.AddSeconds(1), out var refusal));
            Assert.EndsWith("from 192.0.2.1", refusal);
            Assert.Equal(1, limiter.TrackedSources);
        }

        [Fact]
        public void The_sweep_forgets_sources_idle_for_a_window_so_memory_follows_active_sources_only()
        {
            var limiter = new ConnectionRateLimiter(5, 0);
            for (int i = 0; i < 1000; i++)
                Assert.True(limiter.TryAdmit(new IPAddress(0x0A000000 + i), T0, out _));
            Assert.Equal(1000, limiter.TrackedSources);

            // Within the window nothing is forgotten: those sources may still be refused.
            Assert.True(limiter.TryAdmit(A, T0.AddSeconds(59), out _));
            Assert.Equal(1001, limiter.TrackedSources);

            // A window after the last sweep, the next admission sweeps: only A (admitted at 59 s) and the new source remain.
            Assert.True(limiter.TryAdmit(B, T0.AddSeconds(60), out _));
            Assert.Equal(2, limiter.TrackedSources);
        }

        [Fact]
        public void The_sweep_runs_at_most_once_a_window()
        {
            var limiter = new ConnectionRateLimiter(5, 0);
            var c1 = IPAddress.Parse("198.51.100.1");
            var c2 = IPAddress.Parse("198.51.100.2");
            Assert.True(limiter.TryAdmit(A, T0, out _)); // the first call sweeps, with nothing to forget
            Assert.True(limiter.TryAdmit(B, T0.AddSeconds(30), out _));
            // 80 s: a window since the last sweep, so it sweeps; A (0 s) is forgotten, B (30 s) is not.
            Assert.True(limiter.TryAdmit(c1, T0.AddSeconds(80), out _));
            Assert.Equal(2, limiter.TrackedSources);
            // 139 s: B has been idle for a window since 90 s, but the next sweep is due only at 140 s.
            Assert.True(limiter.TryAdmit(c2, T0.AddSeconds(139), out _));
            Assert.Equal(3, limiter.TrackedSources);
            // 140 s: it sweeps; B (30 s) and c1 (80 s) are forgotten, c2 stays and the new source joins.
            Assert.True(limiter.TryAdmit(IPAddress.Parse("198.51.100.3"), T0.AddSeconds(140), out _));
            Assert.Equal(2, limiter.TrackedSources);
        }

        /// <summary>
        /// The limiter's law: a connection is admitted exactly when fewer than N admitted connections (per source and
        /// overall) lie in the 60 seconds before it. Checked against a plain count over any arrival sequence.
        /// </summary>
        [Property(MaxTest = 300)]
        public Property Admits_exactly_when_fewer_than_N_admissions_lie_in_the_last_60_seconds()
        {
            var arrivals =
                from perSource in Gen.Choose(0, 4)
                from overall in Gen.Choose(0, 6)
                from steps in Gen.ListOf(Gen.Zip(Gen.Choose(0, 40_000), Gen.Choose(0, 2)))
                select (perSource, overall, steps);
            return Prop.ForAll(arrivals.ToArbitrary(), input =>
            {
                var (perSource, overall, steps) = input;
                var limiter = new ConnectionRateLimiter(perSource, overall);
                var sources = new[] { A, B, A.MapToIPv6() };
                var admitted = new List<(DateTime At, IPAddress Source)>();
                var now = T0;
                foreach (var (gapMs, which) in steps)
                {
                    now = now.AddMilliseconds(gapMs);
                    var source = sources[which];
                    var key = which == 2 ? A : source;
                    var inWindow = admitted.Where(a => now - a.At < TimeSpan.FromSeconds(60)).ToList();
                    bool expected = (perSource == 0 || inWindow.Count(a => a.Source.Equals(key)) < perSource)
                        && (overall == 0 || inWindow.Count < overall);
                    bool actual = limiter.TryAdmit(source, now, out var refusal);
                    if (actual != expected || actual != (refusal == null))
                        return false;
                    if (actual)
                        admitted.Add((now, key));
                }
                return true;
            });
        }
    }
}
