using System.Collections.Generic;
using System.Linq;
using EchoPS.Measure;

namespace EchoPS.Tests
{
    /// <summary>The spread of a figure over rounds, the confidence interval and "within noise"; the kernel counters' parsing.</summary>
    public class SpreadTests
    {
        [Fact]
        public void Five_rounds_give_a_t_interval_around_the_mean()
        {
            var s = Spread.Of("RttP50Ms", new double?[] { 10, 12, 11, 13, 9 }, isRatio: false);
            Assert.Equal(11, s.Value);
            Assert.Equal(9, s.Min);
            Assert.Equal(13, s.Max);
            // mean 11, sample sd sqrt(2.5), t(4) = 2.776: 11 +- 2.776 * 1.5811 / sqrt(5)
            double half = 2.776 * Math.Sqrt(2.5) / Math.Sqrt(5);
            Assert.Equal(11 - half, s.CiLow.Value, 9);
            Assert.Equal(11 + half, s.CiHigh.Value, 9);
            Assert.Null(s.WithinNoise);
        }

        [Fact]
        public void Fewer_than_five_rounds_give_no_interval_and_a_ratio_is_judged_on_min_max()
        {
            var s = Spread.Of("StreamRatio", new double?[] { 0.9, 1.2, null }, isRatio: true);
            Assert.Null(s.CiLow);
            Assert.Equal(2, s.Rounds);
            Assert.True(s.WithinNoise);
            var clear = Spread.Of("StreamRatio", new double?[] { 1.1, 1.2 }, isRatio: true);
            Assert.False(clear.WithinNoise);
            Assert.Null(Spread.Of("StreamRatio", new double?[] { 1.1 }, isRatio: true).WithinNoise);
            Assert.Null(Spread.Of("StreamRatio", new double?[] { null }, isRatio: true));
        }

        [Fact]
        public void A_ratio_interval_is_taken_over_logarithms_so_faster_and_slower_are_symmetric()
        {
            var up = Spread.Of("x", new double?[] { 2, 4, 2, 4, 2 }, isRatio: true);
            var down = Spread.Of("x", new double?[] { 0.5, 0.25, 0.5, 0.25, 0.5 }, isRatio: true);
            Assert.Equal(up.CiLow.Value, 1 / down.CiHigh.Value, 9);
            Assert.Equal(up.CiHigh.Value, 1 / down.CiLow.Value, 9);
            Assert.False(up.WithinNoise);
        }

        [Fact]
        public void A_wide_interval_that_includes_one_is_within_noise()
        {
            var s = Spread.Of("RttP50Ratio", new double?[] { 0.8, 1.3, 0.9, 1.25, 1.0 }, isRatio: true);
            Assert.NotNull(s.CiLow);
            Assert.True(s.CiLow < 1 && s.CiHigh > 1);
            Assert.True(s.WithinNoise);
            Assert.Contains("within noise", Spread.Describe(s, "0.00"));
        }

        [Fact]
        public void Kernel_counters_are_read_from_the_name_and_value_line_pairs()
        {
            var lines = new[]
            {
                "TcpExt: SyncookiesSent ListenOverflows ListenDrops TCPSynRetrans",
                "TcpExt: 0 348 350 12",
                "IpExt: InNoRoutes",
                "IpExt: 0",
                "Tcp: RtoAlgorithm OutRsts EstabResets AttemptFails RetransSegs",
                "Tcp: 1 7 3 2 40",
            };
            var before = new Dictionary<string, long>();
            KernelCounters.Parse(lines, before);
            Assert.Equal(348, before["TcpExt.ListenOverflows"]);
            Assert.Equal(7, before["Tcp.OutRsts"]);
            var after = new Dictionary<string, long>(before) { ["TcpExt.ListenOverflows"] = 748, ["TcpExt.ListenDrops"] = 750 };
            var delta = KernelCounters.Delta(before, after);
            Assert.Equal(400, delta.ListenOverflows);
            Assert.Equal(400, delta.ListenDrops);
            Assert.Equal(0, delta.ResetsSent);
            Assert.True(delta.Overflowed);
            Assert.Null(KernelCounters.Delta(null, after));
            var sum = KernelCounterDelta.Sum(new[] { delta, null, delta });
            Assert.Equal(800, sum.ListenOverflows);
        }
    }
}
