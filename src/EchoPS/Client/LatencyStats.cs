using System;
using System.Diagnostics;

namespace EchoPS.Client
{
    /// <summary>Turns raw Stopwatch tick samples into the result's round-trip statistics, after the timed loop.</summary>
    internal static class LatencyStats
    {
        private static readonly double MsPerTick = 1000.0 / Stopwatch.Frequency;

        internal static double ToMs(long ticks) => ticks * MsPerTick;

        internal static void Fill(EchoRoundTripResult result, long[] samples, int count)
        {
            if (count == 0)
                return;
            var sorted = new long[count];
            Array.Copy(samples, sorted, count);
            Array.Sort(sorted);
            result.SortedRttTicks = sorted;

            double sum = 0;
            foreach (var ticks in sorted)
                sum += ToMs(ticks);
            double mean = sum / count;
            double squares = 0;
            foreach (var ticks in sorted)
            {
                double d = ToMs(ticks) - mean;
                squares += d * d;
            }

            result.RttMinMs = ToMs(sorted[0]);
            result.RttMeanMs = mean;
            result.RttP50Ms = ToMs(Percentile(sorted, 0.50));
            result.RttP90Ms = ToMs(Percentile(sorted, 0.90));
            result.RttP99Ms = ToMs(Percentile(sorted, 0.99));
            result.RttMaxMs = ToMs(sorted[count - 1]);
            result.RttStdDevMs = Math.Sqrt(squares / count);
        }

        /// <summary>Nearest rank: the smallest sample with at least the fraction q of all samples at or below it.</summary>
        internal static long Percentile(long[] sorted, double q)
        {
            int rank = (int)Math.Ceiling(q * sorted.Length);
            return sorted[Math.Max(rank, 1) - 1];
        }
    }
}
