using System.Collections.Generic;
using EchoPS.LockDown;

namespace EchoPS.Tests
{
    /// <summary>The echo throttle (a token bucket with a one-second burst), with an injected clock.</summary>
    public class ByteRateThrottleTests
    {
        private static readonly DateTime T0 = TestClock.T0;

        [Fact]
        public void A_new_bucket_holds_one_seconds_worth_then_makes_the_caller_wait_for_more()
        {
            var throttle = new ByteRateThrottle(1000, T0);
            Assert.Equal(TimeSpan.Zero, throttle.Take(1000, T0));
            Assert.Equal(TimeSpan.FromSeconds(0.5), throttle.Take(500, T0));
            // The debt carries over: the next 500 bytes wait for the first debt too.
            Assert.Equal(TimeSpan.FromSeconds(1), throttle.Take(500, T0));
        }

        [Fact]
        public void The_bucket_refills_at_the_rate_and_never_beyond_one_second_of_burst()
        {
            var throttle = new ByteRateThrottle(1000, T0);
            Assert.Equal(TimeSpan.Zero, throttle.Take(1000, T0));
            Assert.Equal(TimeSpan.Zero, throttle.Take(250, T0.AddSeconds(0.25)));
            // Idle for a minute: the bucket is full, but full is one second's worth, not sixty.
            var later = T0.AddMinutes(1);
            Assert.Equal(TimeSpan.Zero, throttle.Take(1000, later));
            Assert.Equal(TimeSpan.FromSeconds(1), throttle.Take(1000, later));
        }

        [Fact]
        public void The_largest_chunk_is_one_seconds_worth_and_fits_an_int()
        {
            Assert.Equal(4096, new ByteRateThrottle(4096, T0).MaxChunk);
            Assert.Equal(int.MaxValue, new ByteRateThrottle(long.MaxValue, T0).MaxChunk);
        }

        [Theory]
        [InlineData(0)]
        [InlineData(-1)]
        public void A_rate_below_one_byte_per_second_is_refused_naming_the_value(long rate)
        {
            var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new ByteRateThrottle(rate, T0));
            Assert.Equal("bytesPerSecond", ex.ParamName);
            Assert.Equal(rate, ex.ActualValue);
        }

        /// <summary>
        /// The token bucket's law: with chunks of at most <see cref="ByteRateThrottle.MaxChunk"/>, a caller that waits
        /// as told sends, over any interval [a, b] of its send times, at most rate * (b - a) + burst bytes (burst = one
        /// second's worth). Checked for every pair of sends of random chunk sizes and pauses.
        /// </summary>
        [Property(MaxTest = 300)]
        public Property Never_sends_more_than_rate_times_interval_plus_burst()
        {
            var runs =
                from rate in Gen.Elements(1L, 7L, 1000L, 65_536L, 10_000_000L)
                from steps in Gen.NonEmptyListOf(Gen.Zip(Gen.Choose(1, 1_000_000), Gen.Choose(0, 2_000_000)))
                select (rate, steps);
            return Prop.ForAll(runs.ToArbitrary(), run =>
            {
                var (rate, steps) = run;
                var throttle = new ByteRateThrottle(rate, T0);
                var sends = new List<(DateTime At, long Bytes)>();
                var now = T0;
                foreach (var (size, pauseMicroseconds) in steps)
                {
                    now = now.AddTicks(pauseMicroseconds * 10L);
                    int bytes = (int)(1 + (size - 1) % throttle.MaxChunk);
                    now += throttle.Take(bytes, now); // the caller waits as told, then sends
                    sends.Add((now, bytes));
                }
                // A send may leave up to one clock tick early (the wait is rounded to ticks).
                double slack = rate * 2e-7 + 1e-6;
                for (int i = 0; i < sends.Count; i++)
                {
                    long sum = 0;
                    for (int j = i; j < sends.Count; j++)
                    {
                        sum += sends[j].Bytes;
                        double allowed = rate * (sends[j].At - sends[i].At).TotalSeconds + rate;
                        if (sum > allowed + slack * (j - i + 1))
                            return false;
                    }
                }
                return true;
            });
        }
    }
}
