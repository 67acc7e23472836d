using System.Diagnostics;
using System.Linq;
using EchoPS.Client;

namespace EchoPS.Tests
{
    /// <summary>Round-trip statistics from raw Stopwatch samples: nearest-rank percentiles, mean, population deviation.</summary>
    public class LatencyStatsTests
    {
        private static long Ms(double ms) => (long)Math.Round(ms * Stopwatch.Frequency / 1000.0);

        [Fact]
        public void One_to_a_hundred_milliseconds_in_any_order()
        {
            var rng = new Random(11);
            var samples = Enumerable.Range(1, 100).Select(i => Ms(i)).OrderBy(_ => rng.Next()).ToArray();
            var result = new EchoRoundTripResult();
            LatencyStats.Fill(result, samples, samples.Length);

            Assert.Equal(1, result.RttMinMs.Value, 9);
            Assert.Equal(100, result.RttMaxMs.Value, 9);
            Assert.Equal(50.5, result.RttMeanMs.Value, 9);
            // Nearest rank: the smallest sample with at least q of all samples at or below it.
            Assert.Equal(50, result.RttP50Ms.Value, 9);
            Assert.Equal(90, result.RttP90Ms.Value, 9);
            Assert.Equal(99, result.RttP99Ms.Value, 9);
            // Population standard deviation of 1..n: sqrt((n^2 - 1) / 12).
            Assert.Equal(Math.Sqrt((100.0 * 100 - 1) / 12), result.RttStdDevMs.Value, 9);
        }

        [Fact]
        public void Percentiles_are_samples_never_interpolated()
        {
            var samples = new[] { Ms(1), Ms(2), Ms(3), Ms(1000) };
            var result = new EchoRoundTripResult();
            LatencyStats.Fill(result, samples, samples.Length);
            Assert.Equal(2, result.RttP50Ms.Value, 9);   // rank ceil(0.5 * 4) = 2
            Assert.Equal(1000, result.RttP90Ms.Value, 9); // rank ceil(0.9 * 4) = 4
            Assert.Equal(1000, result.RttP99Ms.Value, 9);
        }

        [Fact]
        public void A_single_sample_is_every_statistic_with_no_spread()
        {
            var result = new EchoRoundTripResult();
            LatencyStats.Fill(result, new[] { Ms(0.25) }, 1);
            foreach (var value in new[] { result.RttMinMs, result.RttMeanMs, result.RttP50Ms, result.RttP90Ms, result.RttP99Ms, result.RttMaxMs })
                Assert.Equal(0.25, value.Value, 6);
            Assert.Equal(0, result.RttStdDevMs.Value, 12);
        }

        [Fact]
        public void Only_the_first_count_samples_count_and_none_leaves_the_statistics_empty()
        {
            var samples = new[] { Ms(5), Ms(7), Ms(999), Ms(999) };
            var result = new EchoRoundTripResult();
            LatencyStats.Fill(result, samples, 2);
            Assert.Equal(7, result.RttMaxMs.Value, 9);
            Assert.Equal(6, result.RttMeanMs.Value, 9);
            Assert.Equal(new[] { Ms(5), Ms(7), Ms(999), Ms(999) }, samples); // the caller's samples are left as they were

            var empty = new EchoRoundTripResult();
            LatencyStats.Fill(empty, samples, 0);
            Assert.Null(empty.RttMinMs);
            Assert.Null(empty.RttP50Ms);
            Assert.Null(empty.RttStdDevMs);
        }

        [Fact]
        public void Ticks_convert_to_milliseconds_at_the_Stopwatch_frequency()
        {
            Assert.Equal(1000.0, LatencyStats.ToMs(Stopwatch.Frequency), 9);
            Assert.Equal(0.0, LatencyStats.ToMs(0));
        }
    }
}
