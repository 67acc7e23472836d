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
        /// <summary>A byte count for people: "512 B", "1.5 KiB", "12.3 MiB".</summary>
        public static string Bytes(long bytes) => Net.InvariantFormat.Bytes(bytes, CultureInfo.CurrentCulture);

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
