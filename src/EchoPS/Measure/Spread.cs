using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace EchoPS.Measure
{
    /// <summary>
    /// One figure's or ratio's spread over the rounds: the value reported (the median over rounds), the lowest and
    /// highest round, and with 5 or more rounds a 95 % confidence interval (Student's t over the rounds' values; for
    /// a ratio, over their logarithms, so it is symmetric in "faster" and "slower"). A ratio is within noise when its
    /// interval (the confidence interval, or the rounds' min-max with fewer than 5 rounds) includes 1.0.
    /// </summary>
    public sealed class FigureSpread
    {
        /// <summary>The property it belongs to: RttP50Ms, StreamRatio, Load100RoundTripsPerSec, ServerLoadCpuUsPerOp (the server's CPU per operation of a figure), ...</summary>
        public string Figure { get; internal set; }

        /// <summary>The value reported: the median over the rounds; for a ratio, the ratio of the medians.</summary>
        public double? Value { get; internal set; }

        /// <summary>The lowest round.</summary>
        public double? Min { get; internal set; }

        /// <summary>The highest round.</summary>
        public double? Max { get; internal set; }

        /// <summary>The 95 % confidence interval's lower end (5 or more rounds); null otherwise.</summary>
        public double? CiLow { get; internal set; }

        /// <summary>The 95 % confidence interval's upper end.</summary>
        public double? CiHigh { get; internal set; }

        /// <summary>Rounds with a value.</summary>
        public int Rounds { get; internal set; }

        /// <summary>True for a ratio to the baseline.</summary>
        public bool IsRatio { get; internal set; }

        /// <summary>For a ratio: its interval includes 1.0 (no difference shown); null with one round, or not a ratio.</summary>
        public bool? WithinNoise { get; internal set; }

        /// <inheritdoc />
        public override string ToString() => Spread.Describe(this, "0.###");
    }

    /// <summary>Computes <see cref="FigureSpread"/> for every figure and ratio of the results.</summary>
    internal static class Spread
    {
        internal const int MinRoundsForInterval = 5;

        // Student's t, two-sided 95 %, for 1 to 30 degrees of freedom; 1.96 beyond.
        private static readonly double[] T975 =
        {
            12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
            2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
        };

        /// <summary>The figures whose rounds are compared, and the ratio named after each (null: no ratio).</summary>
        private static readonly (string Figure, string Ratio, Func<MeasureRound, double?> Of)[] Figures =
        {
            ("RttP50Ms", "RttP50Ratio", r => r.RttP50Ms),
            ("RttP99Ms", "RttP99Ratio", r => r.RttP99Ms),
            ("RttP999Ms", null, r => r.RttP999Ms),
            ("StreamMiBps", "StreamRatio", r => r.StreamMiBps),
            ("ConnectionsPerSec", "ConnectionsRatio", r => r.ConnectionsPerSec),
            ("Slots", "SlotsRatio", r => r.Slots),
            ("CapacityEchoed", "CapacityRatio", r => r.CapacityEchoed),
            ("CapacityLastEchoMs", null, r => r.CapacityLastEchoMs),
        };

        internal static void Fill(IReadOnlyList<EchoServerMeasurement> results, int baselineIndex)
        {
            var baseline = results[baselineIndex];
            foreach (var m in results)
            {
                var spreads = new List<FigureSpread>();
                foreach (var (figure, ratio, of) in AllFigures(m))
                {
                    var values = m.PerRound.Select(of).ToArray();
                    var spread = Of(figure, values, isRatio: false);
                    if (spread != null)
                        spreads.Add(spread);
                    if (ratio == null || m.IsBaseline)
                        continue;
                    // Paired by round: both servers were measured within the same round, so its drift cancels.
                    var baseRounds = baseline.PerRound;
                    var ratios = m.PerRound.Select((r, i) => i < baseRounds.Length && of(r) is double v && of(baseRounds[i]) is double b && b > 0 ? v / b : (double?)null).ToArray();
                    var ratioSpread = Of(ratio, ratios, isRatio: true);
                    if (ratioSpread == null)
                        continue;
                    // The value shown is the ratio reported (of the medians), where the result has one by that name.
                    if (typeof(EchoServerMeasurement).GetProperty(ratio)?.GetValue(m) is double reported)
                        ratioSpread.Value = reported;
                    spreads.Add(ratioSpread);
                }
                if (!m.IsBaseline)
                    spreads.AddRange(ServerRatios(m, baseline));
                spreads.AddRange(m.ServerSpread ?? new FigureSpread[0]); // the server's CPU per operation (no ratio: its own ratios are to the baseline's median)
                m.Spread = spreads.ToArray();
                m.WithinNoise = spreads.Where(s => s.WithinNoise == true).Select(s => s.Figure).ToArray();
            }
        }

        /// <summary>The server-side ratios (CPU per operation against the baseline's), paired by round like the others.</summary>
        private static IEnumerable<FigureSpread> ServerRatios(EchoServerMeasurement m, EchoServerMeasurement baseline)
        {
            foreach (var (figure, ratio, reported) in new (MeasureFigure, string, double?)[]
            {
                (MeasureFigure.RoundTrip, "ServerCpuPerRoundTripRatio", m.ServerCpuPerRoundTripRatio),
                (MeasureFigure.Connections, "ServerCpuPerConnectionRatio", m.ServerCpuPerConnectionRatio),
                (MeasureFigure.Stream, "ServerCpuPerMiBRatio", m.ServerCpuPerMiBRatio),
            })
            {
                if (reported == null || !m.ServerCpuRounds.TryGetValue(figure, out var mine) || !baseline.ServerCpuRounds.TryGetValue(figure, out var theirs))
                    continue;
                var ratios = mine.Select((v, i) => v is double a && i < theirs.Length && theirs[i] is double b && b > 0 ? a / b : (double?)null).ToArray();
                var spread = Of(ratio, ratios, isRatio: true);
                if (spread == null)
                    continue;
                spread.Value = reported;
                yield return spread;
            }
        }

        /// <summary>The fixed figures, and each load step's round trips/s and p99 (with a ratio where the baseline has the step).</summary>
        private static IEnumerable<(string, string, Func<MeasureRound, double?>)> AllFigures(EchoServerMeasurement m)
        {
            foreach (var f in Figures)
                yield return f;
            foreach (var step in m.Load ?? new LoadStep[0])
            {
                int clients = step.Clients;
                LoadStep at(MeasureRound r) => r.Load?.FirstOrDefault(s => s.Clients == clients);
                yield return ($"Load{clients}RoundTripsPerSec", $"Load{clients}Ratio", r => at(r)?.RoundTripsPerSec);
                yield return ($"Load{clients}P99Ms", null, r => at(r)?.P99Ms);
            }
        }

        /// <summary>The spread of one figure's per-round values; null when no round has one.</summary>
        internal static FigureSpread Of(string figure, IReadOnlyList<double?> perRound, bool isRatio)
        {
            var values = perRound.Where(v => v != null && !double.IsNaN(v.Value) && !double.IsInfinity(v.Value)).Select(v => v.Value).ToArray();
            if (values.Length == 0)
                return null;
            var spread = new FigureSpread
            {
                Figure = figure,
                Value = EchoServerMeasurer.Median(values.Select(v => (double?)v)),
                Min = values.Min(),
                Max = values.Max(),
                Rounds = values.Length,
                IsRatio = isRatio,
            };
            if (values.Length >= MinRoundsForInterval && (!isRatio || values.All(v => v > 0)))
            {
                var xs = isRatio ? values.Select(v => Math.Log(v)).ToArray() : values;
                double mean = xs.Average();
                double sd = Math.Sqrt(xs.Sum(x => (x - mean) * (x - mean)) / (xs.Length - 1));
                double half = T(xs.Length - 1) * sd / Math.Sqrt(xs.Length);
                spread.CiLow = isRatio ? Math.Exp(mean - half) : mean - half;
                spread.CiHigh = isRatio ? Math.Exp(mean + half) : mean + half;
            }
            if (isRatio && values.Length >= 2)
            {
                double low = spread.CiLow ?? spread.Min.Value, high = spread.CiHigh ?? spread.Max.Value;
                spread.WithinNoise = low <= 1.0 && high >= 1.0;
            }
            return spread;
        }

        internal static double T(int degreesOfFreedom) => degreesOfFreedom <= 0 ? double.NaN : degreesOfFreedom <= T975.Length ? T975[degreesOfFreedom - 1] : 1.96;

        /// <summary>"1.23 (1.10-1.40, 95 % CI 1.12-1.35) within noise", in the invariant culture.</summary>
        internal static string Describe(FigureSpread s, string format)
        {
            if (s == null || s.Value == null)
                return "—";
            var c = CultureInfo.InvariantCulture;
            string text = s.Value.Value.ToString(format, c);
            if (s.Rounds >= 2)
                text += $" ({s.Min.Value.ToString(format, c)}–{s.Max.Value.ToString(format, c)}";
            if (s.CiLow != null)
                text += $", CI {s.CiLow.Value.ToString(format, c)}–{s.CiHigh.Value.ToString(format, c)}";
            if (s.Rounds >= 2)
                text += ")";
            if (s.WithinNoise == true)
                text += " within noise";
            return text;
        }
    }
}
