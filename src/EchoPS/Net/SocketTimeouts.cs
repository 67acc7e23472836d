using System;
using System.Diagnostics;

namespace EchoPS.Net
{
    /// <summary>
    /// Socket timeouts and clock arithmetic, written once: a socket timeout is whole milliseconds in an int where 0
    /// means none, so a positive time is rounded up and never becomes 0; deadlines are Stopwatch timestamps.
    /// </summary>
    internal static class SocketTimeouts
    {
        /// <summary>A timeout as SO_RCVTIMEO/SO_SNDTIMEO take it: 0 (none) for zero or less, else whole ms rounded up, 1 to int.MaxValue.</summary>
        internal static int Milliseconds(TimeSpan timeout) =>
            timeout <= TimeSpan.Zero ? 0 : (int)Math.Min(int.MaxValue, Math.Max(1, Math.Ceiling(timeout.TotalMilliseconds)));

        /// <summary>The same for a span in Stopwatch ticks: <see cref="long.MaxValue"/> is none (0); anything else at least 1 ms.</summary>
        internal static int Milliseconds(long stopwatchTicks) =>
            stopwatchTicks == long.MaxValue ? 0
                : (int)Math.Min(int.MaxValue, Math.Max(1, (stopwatchTicks * 1000 + Stopwatch.Frequency - 1) / Stopwatch.Frequency));

        /// <summary>A span in Stopwatch ticks.</summary>
        internal static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

        /// <summary>The time between two Stopwatch timestamps.</summary>
        internal static TimeSpan Elapsed(long fromTimestamp, long toTimestamp) =>
            TimeSpan.FromSeconds((toTimestamp - fromTimestamp) / (double)Stopwatch.Frequency);
    }
}
