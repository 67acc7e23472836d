using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace EchoPS.Measure
{
    /// <summary>
    /// The report's sections for the load figure, the idle connections, the kernel's counters, the spread over
    /// rounds and the load average (report.md); each returns nothing when it has nothing to say.
    /// </summary>
    internal static class MeasureReportLoad
    {
        private static readonly CultureInfo C = CultureInfo.InvariantCulture;

        /// <summary>A ratio as "1.23x", with " ~" when its interval includes 1.0 (within noise).</summary>
        internal static string Ratio(EchoServerMeasurement r, string name, double? ratio)
        {
            if (ratio == null)
                return "—";
            string text = ratio.Value.ToString("0.00", C) + "x";
            return r.WithinNoise != null && r.WithinNoise.Contains(name) ? text + " ~" : text;
        }

        internal static void Sections(StringBuilder md, IReadOnlyList<EchoServerMeasurement> results)
        {
            Load(md, results);
            Idle(md, results);
            Kernel(md, results);
            SpreadTable(md, results);
        }

        private static void Load(StringBuilder md, IReadOnlyList<EchoServerMeasurement> results)
        {
            var withLoad = results.Where(r => r.Load != null).ToArray();
            if (withLoad.Length == 0)
                return;
            md.AppendLine("## Load: many clients at once").AppendLine();
            md.AppendLine(string.Format(C, "Each client sends a {0}-byte message, waits for its whole echo (verified byte for byte) and sends the next, for {1:0.###} s; medians over rounds (round trips/s and p99: min–max over rounds in brackets). Starved: connected clients that got no echo at all. Fairness: the fewest and most round trips of one client. Measurer: the measuring process's CPU per round trip and its threads at most.",
                withLoad[0].MessageSize, withLoad[0].LoadDurationMs / 1000)).AppendLine();
            md.AppendLine($"| Server | Clients | Connected | Starved | Round trips/s | vs {withLoad[0].Baseline} | MiB/s | p50 µs | p99 µs | p99.9 µs | max µs | Fairness min/max | Measurer µs CPU/rt | Threads | Connect p99 ms |");
            md.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
            foreach (var r in withLoad)
                foreach (var s in r.Load)
                    md.AppendLine(string.Join(" | ", new[]
                    {
                        "| " + r.Name, s.Clients.ToString(C), s.Connected.ToString("0.#", C), s.Starved.ToString("0.#", C),
                        s.RoundTripsPerSec.ToString("0", C) + Range(s.RoundTripsPerSecMin, s.RoundTripsPerSecMax, "0", 1),
                        LoadRatio(r, s.Clients),
                        s.MiBps.ToString("0.00", C), Us(s.P50Ms), Us(s.P99Ms) + Range(s.P99MsMin, s.P99MsMax, "0.0", 1000), Us(s.P999Ms), Us(s.MaxMs),
                        $"{s.MinPerClient.ToString("0.#", C)}/{s.MaxPerClient.ToString("0.#", C)}",
                        s.MeasurerCpuUsPerRoundTrip?.ToString("0.0", C) ?? "—", s.MeasurerThreads.ToString(C), s.ConnectP99Ms?.ToString("0.0", C) ?? "—",
                    }) + " |");
            md.AppendLine();
            foreach (var r in withLoad)
            {
                var starving = r.Load.Where(s => s.Starved > 0).ToArray();
                if (starving.Length > 0)
                    md.AppendLine($"- {r.Name}: clients starved at " + string.Join(", ", starving.Select(s => $"{s.Clients} clients ({s.Starved:0.#} of {s.Connected:0.#} connected got no echo)")) + ": it serves fewer clients at once than asked.");
                var notConnected = r.Load.Where(s => s.Connected < s.Clients).ToArray();
                if (notConnected.Length > 0)
                    md.AppendLine($"- {r.Name}: not every client connected within the step's connect wait (-LoadSec + 1.5 s, at most -TimeoutSec) at " + string.Join(", ", notConnected.Select(s => $"{s.Clients} clients ({s.Connected:0.#} did)")) + Overflow(notConnected.Select(s => s.Kernel)));
            }
            md.AppendLine();
        }

        private static void Idle(StringBuilder md, IReadOnlyList<EchoServerMeasurement> results)
        {
            var withIdle = results.Where(r => r.IdleAsked > 0).ToArray();
            if (withIdle.Length == 0)
                return;
            md.AppendLine("## Idle connections held during the figures").AppendLine();
            foreach (var r in withIdle)
                md.AppendLine($"- {r.Name}: {r.IdleHeld} of {r.IdleAsked} held (connected and echoed one message before the figures), {r.IdleOpenAtEnd} still open after them.");
            md.AppendLine();
        }

        private static void Kernel(StringBuilder md, IReadOnlyList<EchoServerMeasurement> results)
        {
            var rows = new List<(string Name, string Figure, KernelCounterDelta Delta)>();
            foreach (var r in results)
            {
                if (r.CapacityKernel != null)
                    rows.Add((r.Name, "Capacity", r.CapacityKernel));
                foreach (var s in r.Load ?? new LoadStep[0])
                    if (s.Kernel != null)
                        rows.Add((r.Name, $"Load, {s.Clients} clients", s.Kernel));
            }
            if (rows.Count == 0)
                return;
            md.AppendLine("## Kernel TCP counters").AppendLine();
            md.AppendLine("How much the kernel's counters grew during each figure, all rounds together (/proc/net/netstat and /proc/net/snmp). They are machine-wide: every process's connections count, not only these.").AppendLine();
            md.AppendLine("| Server | Figure | ListenOverflows | ListenDrops | SYN retransmits | Retransmits | Resets sent | Established resets | Failed connects |");
            md.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
            foreach (var (name, figure, d) in rows)
                md.AppendLine($"| {name} | {figure} | {d.ListenOverflows} | {d.ListenDrops} | {d.SynRetransmits} | {d.Retransmits} | {d.ResetsSent} | {d.EstablishedResets} | {d.FailedConnects} |");
            md.AppendLine();
            foreach (var r in results.Where(r => r.CapacityKernel != null && r.CapacityKernel.Overflowed))
                md.AppendLine(string.Format(C,
                    "- {0}, capacity: ListenOverflows grew by {1} (ListenDrops {2}). A full listen queue drops a SYN; the client's kernel sends it again after 1 s, then 3 s, so connects (slowest {3} ms) and echoes (last {4} ms) step at about those times. A last echo near 1,000 ms is that retransmit, not the server's speed.",
                    r.Name, r.CapacityKernel.ListenOverflows, r.CapacityKernel.ListenDrops, r.CapacityConnectMaxMs?.ToString("0", C) ?? "—", r.CapacityLastEchoMs?.ToString("0", C) ?? "—"));
            md.AppendLine();
        }

        private static void SpreadTable(StringBuilder md, IReadOnlyList<EchoServerMeasurement> results)
        {
            if (results.All(r => r.Spread == null || r.Spread.Length == 0))
                return;
            int rounds = results.Max(r => r.Rounds);
            md.AppendLine("## Spread over rounds").AppendLine();
            md.AppendLine(rounds >= Spread.MinRoundsForInterval
                ? "Each figure: the median over rounds (min–max of the rounds, and the 95 % confidence interval of the mean: Student's t over the rounds; for a ratio, over the rounds' paired ratios' logarithms). A ratio whose interval includes 1.0 is within noise (marked ~ in the ratio table)."
                : $"Each figure: the median over rounds (min–max of the rounds). {rounds} round(s): a confidence interval needs {Spread.MinRoundsForInterval} or more (-Rounds). A ratio whose rounds' min–max includes 1.0 is within noise (marked ~ in the ratio table).").AppendLine();
            md.AppendLine("| Server | Figure | Value (spread) |");
            md.AppendLine("| --- | --- | --- |");
            foreach (var r in results)
                foreach (var s in r.Spread ?? new FigureSpread[0])
                    md.AppendLine($"| {r.Name} | {s.Figure} | {Spread.Describe(s, s.IsRatio ? "0.00" : "0.###")} |");
            md.AppendLine();
        }

        private static string Overflow(IEnumerable<KernelCounterDelta> deltas)
        {
            var total = KernelCounterDelta.Sum(deltas);
            return total != null && total.Overflowed
                ? string.Format(C, "; ListenOverflows grew by {0} (machine-wide): its listen queue was full, and a dropped SYN is sent again only after 1 s, then 3 s.", total.ListenOverflows)
                : ".";
        }

        /// <summary>A step's round trips/s against the baseline's (the median of the rounds' paired ratios), with its min–max and ~ within noise.</summary>
        private static string LoadRatio(EchoServerMeasurement r, int clients)
        {
            var spread = r.Spread?.FirstOrDefault(f => f.Figure == $"Load{clients}Ratio");
            if (spread?.Value == null)
                return "—";
            return spread.Value.Value.ToString("0.00", C) + "x" + Range(spread.Min, spread.Max, "0.00", 1) + (spread.WithinNoise == true ? " ~" : string.Empty);
        }

        private static string Us(double? ms) => ms == null ? "—" : (ms.Value * 1000).ToString("0.0", C);

        private static string Range(double? min, double? max, string format, double scale) =>
            min == null || max == null || min == max ? string.Empty : $" ({(min.Value * scale).ToString(format, C)}–{(max.Value * scale).ToString(format, C)})";
    }
}
