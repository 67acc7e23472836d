using System;
using System.Globalization;

namespace EchoPS.Formatting
{
    /// <summary>
    /// How the format views (EchoPS.Format.ps1xml) show sizes and times; public only so that those views can call it.
    /// The objects themselves keep exact numbers for scripts.
    /// </summary>
    public static class DisplayFormat
    {
        private static readonly string[] s_units = { "KiB", "MiB", "GiB", "TiB" };

        /// <summary>A byte count for people: "512 B", "1.5 KiB", "12.3 MiB".</summary>
        public static string Bytes(long bytes) => Bytes(bytes, CultureInfo.CurrentCulture);

        /// <summary>The same in the invariant culture, for messages that must read the same everywhere.</summary>
        internal static string InvariantBytes(long bytes) => Bytes(bytes, CultureInfo.InvariantCulture);

        private static string Bytes(long bytes, CultureInfo culture)
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

        /// <summary>
        /// A duration in milliseconds with the precision that matters at its size: "0.042" under 10 ms (a loopback
        /// round trip), "12.3" under a second, "4,567" beyond; empty for no duration.
        /// </summary>
        public static string Milliseconds(double? milliseconds)
        {
            if (milliseconds == null)
                return string.Empty;
            double ms = milliseconds.Value;
            string format = ms < 10 ? "0.000" : ms < 1000 ? "0.0" : "#,0";
            return ms.ToString(format, CultureInfo.CurrentCulture);
        }
    }
}
