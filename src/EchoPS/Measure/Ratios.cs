using System.Collections.Generic;

namespace EchoPS.Measure
{
    /// <summary>Each server's figures against the baseline's: value / baseline value, where both exist.</summary>
    internal static class Ratios
    {
        internal static void Fill(IReadOnlyList<EchoServerMeasurement> results, int baselineIndex)
        {
            var b = results[baselineIndex];
            foreach (var m in results)
            {
                m.IsBaseline = ReferenceEquals(m, b);
                m.Baseline = b.Name;
                m.RttP50Ratio = Of(m.RttP50Ms, b.RttP50Ms);
                m.RttP99Ratio = Of(m.RttP99Ms, b.RttP99Ms);
                m.StreamRatio = Of(m.StreamMiBps, b.StreamMiBps);
                m.ConnectionsRatio = Of(m.ConnectionsPerSec, b.ConnectionsPerSec);
                m.SlotsRatio = Of(m.Slots, b.Slots);
                m.CapacityRatio = Of(m.CapacityEchoed, b.CapacityEchoed);
                m.ServerCpuPerRoundTripRatio = Of(m.ServerCpuUsPerRoundTrip, b.ServerCpuUsPerRoundTrip);
                m.ServerCpuPerConnectionRatio = Of(m.ServerCpuUsPerConnection, b.ServerCpuUsPerConnection);
                m.ServerCpuPerMiBRatio = Of(m.ServerCpuUsPerMiB, b.ServerCpuUsPerMiB);
            }
        }

        private static double? Of(double? value, double? baseline) =>
            value != null && baseline != null && baseline.Value > 0 ? value.Value / baseline.Value : (double?)null;
    }
}
