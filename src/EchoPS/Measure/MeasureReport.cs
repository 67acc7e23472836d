using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;

namespace EchoPS.Measure
{
    /// <summary>Writes a measurement's report to a folder: report.md, measurement.json and the SVG charts.</summary>
    public static class MeasureReport
    {
        private static readonly CultureInfo C = CultureInfo.InvariantCulture;

        /// <summary>Writes the report; returns the files written.</summary>
        public static IReadOnlyList<string> Write(string folder, MeasureSetup setup, IReadOnlyList<EchoServerMeasurement> results)
        {
            Directory.CreateDirectory(folder);
            var skipped = new List<string>();
            var files = MeasureCharts.Write(folder, results, skipped);

            string json = Path.Combine(folder, "measurement.json");
            File.WriteAllText(json, Json.Write(new Dictionary<string, object>
            {
                ["Setup"] = setup,
                ["Results"] = results,
                ["Latency"] = results.ToDictionary(r => r.Name, r => LatencyCurve(r.RttSamplesMs)),
                ["Capacity"] = results.ToDictionary(r => r.Name, r => r.PerRound.Select(p => p.CapacityEchoTimesMs).ToArray()),
            }), new UTF8Encoding(false));
            files.Add(json);

            string report = Path.Combine(folder, "report.md");
            File.WriteAllText(report, Markdown(setup, results, files.Select(Path.GetFileName).ToList(), skipped), new UTF8Encoding(false));
            files.Insert(0, report);
            return files;
        }

        /// <summary>Latency at fixed percentiles, for the raw data (every sample would be megabytes).</summary>
        private static Dictionary<string, double> LatencyCurve(double[] sorted)
        {
            var curve = new Dictionary<string, double>();
            if (sorted == null || sorted.Length == 0)
                return curve;
            foreach (double q in new[] { 0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999, 1 })
            {
                int rank = (int)Math.Ceiling(q * sorted.Length);
                curve["p" + (q * 100).ToString("0.##", C)] = sorted[Math.Max(rank, 1) - 1];
            }
            curve["samples"] = sorted.Length;
            return curve;
        }

        private static string Markdown(MeasureSetup s, IReadOnlyList<EchoServerMeasurement> results, List<string> files, List<string> skipped)
        {
            var md = new StringBuilder();
            var baseline = results.First(r => r.IsBaseline);
            md.AppendLine("# Echo server measurement").AppendLine();
            md.AppendLine(string.Format(C, "Measured by EchoPS {0} (Measure-EchoServer) on {1:yyyy-MM-dd HH:mm} (UTC{1:zzz}).", s.Version, s.Started)).AppendLine();
            md.AppendLine("## Set-up").AppendLine();
            md.AppendLine($"- Machine: {s.OperatingSystem}, {s.Runtime}.");
            md.Append(MeasureReportServers.Environment(s));
            if (s.DescriptorLimit != null)
                md.AppendLine($"- Open-file limit of the measuring process: {s.DescriptorLimit}.");
            md.AppendLine("- Servers, in measuring order: " + string.Join("; ", s.Targets) + $". Baseline: {baseline.Name}.");
            foreach (var line in s.Sizes)
                md.AppendLine("- " + line);
            md.AppendLine();

            md.AppendLine("## Figures").AppendLine();
            md.AppendLine("| Server | RTT min | p50 | p90 | p99 | p99.9 | max | Stream MiB/s | Conn/s | µs/conn | Slots | Capacity (echoed of N) | Last echo | Errors |");
            md.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
            foreach (var r in results)
                md.AppendLine(string.Join(" | ", new[]
                {
                    "| " + r.Name, Us(r.RttMinMs), Us(r.RttP50Ms), Us(r.RttP90Ms), Us(r.RttP99Ms), Us(r.RttP999Ms), Us(r.RttMaxMs),
                    N(r.StreamMiBps, "0.0"), N(r.ConnectionsPerSec, "0"), r.ConnectionMs == null ? "—" : (r.ConnectionMs.Value * 1000).ToString("0.0", C),
                    N(r.Slots, "0.#"), r.CapacityEchoed == null ? "—" : $"{N(r.CapacityEchoed, "0.#")} of {r.CapacityRequested} ({N(r.CapacityConnected, "0.#")} connected)",
                    r.CapacityLastEchoMs == null ? "—" : N(r.CapacityLastEchoMs, "0.0") + " ms", r.ErrorCount.ToString(C),
                }) + " |");
            md.AppendLine().AppendLine("Round-trip times in µs; figures are medians over rounds (min and max: over all rounds). — : not measured, or no round succeeded.").AppendLine();

            md.AppendLine($"## Ratios to {baseline.Name}").AppendLine();
            md.AppendLine("| Server | p50 (lower is faster) | p99 | Stream (higher is faster) | Conn/s | Slots | Capacity |");
            md.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
            foreach (var r in results)
                md.AppendLine($"| {r.Name} | {X(r, nameof(r.RttP50Ratio), r.RttP50Ratio)} | {X(r, nameof(r.RttP99Ratio), r.RttP99Ratio)} | {X(r, nameof(r.StreamRatio), r.StreamRatio)} | {X(r, nameof(r.ConnectionsRatio), r.ConnectionsRatio)} | {X(r, nameof(r.SlotsRatio), r.SlotsRatio)} | {X(r, nameof(r.CapacityRatio), r.CapacityRatio)} |");
            md.AppendLine().AppendLine("~ : within noise (the ratio's interval over the rounds includes 1.0; see Spread over rounds).").AppendLine();
            MeasureReportLoad.Sections(md, results);

            md.Append(MeasureReportServers.CostTables(results, baseline.Name));

            if (results.Any(r => r.SlotWaitsMs != null))
            {
                md.AppendLine("## Slots: each client's wait for its first echo (ms, in order of service)").AppendLine();
                foreach (var r in results.Where(r => r.SlotWaitsMs != null))
                    md.AppendLine($"- {r.Name}: " + string.Join(", ", r.SlotWaitsMs.Select(w => w == null ? "none" : w.Value.ToString("0.0", C))));
                md.AppendLine();
            }

            md.AppendLine("## Errors, and what was skipped").AppendLine();
            var lines = new List<string>();
            foreach (var r in results)
            {
                foreach (var e in r.Errors)
                    lines.Add($"- {r.Name}, {e.Figure}: {e.Status} x{e.Count}. {e.Message}");
                foreach (var n in r.Notes)
                    lines.Add($"- {r.Name}: {n}");
            }
            var all = (MeasureFigure[])Enum.GetValues(typeof(MeasureFigure));
            var ran = results[0].Figures.Split(new[] { ", " }, StringSplitOptions.RemoveEmptyEntries);
            foreach (var figure in all.Where(f => f != MeasureFigure.None && f != MeasureFigure.All && !ran.Contains(f.ToString())))
                lines.Add($"- {figure}: not measured (not asked for: -Figure).");
            lines.AddRange(s.Notes.Select(n => "- " + n));
            lines.AddRange(skipped.Select(n => "- Chart left out: " + n));
            md.AppendLine(lines.Count == 0 ? "None: every figure ran, and every measurement succeeded." : string.Join(Environment.NewLine, lines)).AppendLine();

            md.AppendLine("## Charts").AppendLine();
            foreach (var f in files.Where(f => f.EndsWith(".svg", StringComparison.Ordinal)))
                md.AppendLine($"![{f}]({f})").AppendLine();
            md.AppendLine("Raw data: [measurement.json](measurement.json).");
            return md.ToString();
        }

        private static string Us(double? ms) => ms == null ? "—" : (ms.Value * 1000).ToString("0.0", C);

        private static string N(double? value, string format) => value == null ? "—" : value.Value.ToString(format, C);

        private static string X(EchoServerMeasurement r, string name, double? ratio) => MeasureReportLoad.Ratio(r, name, ratio);
    }
}
