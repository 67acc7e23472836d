using System;
using System.Globalization;

namespace EchoPS.Net
{
    /// <summary>
    /// Sizes, counts and seconds in messages, limit lines and events: the invariant culture, so that they read the
    /// same on every machine and scripts can match them ("1.5 s", never "1,5 s").
    /// </summary>
    internal static class InvariantFormat
    {
        private static readonly string[] s_units = { "KiB", "MiB", "GiB", "TiB" };

        /// <summary>Seconds: "0.25 s", "60 s" (at most three decimals).</summary>
        internal static string Seconds(TimeSpan time) =>
            time.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";

        /// <summary>Seconds, or "none" for zero (a limit that is off).</summary>
        internal static string SecondsOrNone(TimeSpan time) => time == TimeSpan.Zero ? "none" : Seconds(time);

        /// <summary>A number as typed, in its shortest exact form: "0.5", "2", "1E-05".</summary>
        internal static string Number(double value) => value.ToString(CultureInfo.InvariantCulture);

        /// <summary>A whole number as is: "1000000".</summary>
        internal static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

        /// <summary>A count with group separators: "12,000".</summary>
        internal static string Count(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

        /// <summary>A byte count for people: "512 B", "1.5 KiB", "12.3 MiB".</summary>
        internal static string Bytes(long bytes) => Bytes(bytes, CultureInfo.InvariantCulture);

        /// <summary>A byte count for people in the culture given (the format views use the current one).</summary>
        internal static string Bytes(long bytes, IFormatProvider culture)
        {
            if (Math.Abs(bytes) < 1024)
                return bytes.ToString(culture) + " B";
            double value = bytes;
            int unit = -1;
            while (Math.Abs(value) >= 1024 && unit < s_units.Length - 1)
            {
                value /= 1024;
                unit++;
            }
            return value.ToString("0.0", culture) + " " + s_units[unit];
        }
    }
}
