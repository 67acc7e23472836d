using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace EchoPS.Measure
{
    /// <summary>The report's server-side sections: the environment, each server's cost per operation, the syscall tables.</summary>
    internal static class MeasureReportServers
    {
        private static readonly CultureInfo C = CultureInfo.InvariantCulture;

        /// <summary>Set-up lines: the machine's CPUs and the measurer's affinity, separately; load; other work on the pinned CPUs.</summary>
        internal static string Environment(MeasureSetup s)
        {
            var md = new StringBuilder();
            string machine = s.MachineCpus == null ? "not read" : s.MachineCpus.Value.ToString(C);
            md.AppendLine($"- CPUs: the machine has {machine}; the measurer ran on CPU(s) {s.MeasurerCpus ?? "not read"} ({(s.MeasurerPinned ? "pinned" : "not pinned")}; .NET saw {s.Processors} processor(s), the size of its affinity).");
            if (s.LoadAverageBefore != null)
                md.AppendLine($"- Load average (1, 5, 15 min): {s.LoadAverageBefore} before the timed rounds, {s.LoadAverageAfter ?? "not read"} after.");
            if (s.PinnedCpuOtherWork != null)
                md.AppendLine("- Other work: " + s.PinnedCpuOtherWork);
            return md.ToString();
        }

        /// <summary>Server cost per operation (with ratios to the baseline) and, with -Trace, the top ten syscalls.</summary>
        internal static string CostTables(IReadOnlyList<EchoServerMeasurement> results, string baseline)
        {
            var md = new StringBuilder();
            md.AppendLine("## The servers' side").AppendLine();
            md.AppendLine("| Server | Started as / observed | Pinned to | CPU µs/round trip | CPU µs/conn | CPU µs/MiB | Switches/conn | Faults/conn | Peak RSS MiB | Peak tasks | CPU/conn vs " + baseline + " |");
            md.AppendLine("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
            foreach (var r in results)
                md.AppendLine(string.Join(" | ", new[]
                {
                    "| " + r.Name, (r.ServerCommand != null ? "`" + r.ServerCommand + "`; " : string.Empty) + r.ServerObserved, r.ServerCpus ?? "—",
                    N(r.ServerCpuUsPerRoundTrip, "0.0"), N(r.ServerCpuUsPerConnection, "0.0"), N(r.ServerCpuUsPerMiB, "0"),
                    N(r.ServerSwitchesPerConnection, "0.00"), N(r.ServerFaultsPerConnection, "0.00"), N(r.ServerPeakRssMiB, "0.0"),
                    r.ServerPeakTasks?.ToString(C) ?? "—", MeasureReportLoad.Ratio(r, nameof(r.ServerCpuPerConnectionRatio), r.ServerCpuPerConnectionRatio),
                }) + " |");
            md.AppendLine().AppendLine("CPU is user + system time of every thread and process of the server, children that ended included where it ran in a cgroup of its own; medians over rounds. — : not observed (see the server's note).").AppendLine();
            foreach (var r in results.Where(r => r.ServerCost.Any(c => c.Note != null)))
                foreach (var c in r.ServerCost.Where(c => c.Note != null))
                    md.AppendLine($"- {r.Name}, {c.Figure}: {c.Note}.");
            md.AppendLine();

            var traced = results.Where(r => r.Syscalls.Length > 0 || r.TraceNote != null).ToList();
            if (traced.Count == 0)
                return md.ToString();
            md.AppendLine("## Syscalls and perf stat (-Trace: passes of their own after the timed rounds)").AppendLine();
            md.AppendLine("| Server | Syscalls/echo | Syscalls/conn | perf CPU µs/conn | observed CPU µs/conn (same pass) | perf switches/conn |");
            md.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: |");
            foreach (var r in traced)
                md.AppendLine($"| {r.Name} | {N(r.SyscallsPerRoundTrip, "0.00")} | {N(r.SyscallsPerConnection, "0.00")} | {N(r.PerfCpuUsPerConnection, "0.0")} | {N(r.ObservedCpuUsPerConnectionUnderPerf, "0.0")} | {N(r.PerfSwitchesPerConnection, "0.00")} |");
            md.AppendLine();
            foreach (var r in traced)
            {
                if (r.TraceNote != null)
                    md.AppendLine($"- {r.Name}: {r.TraceNote}");
                foreach (var pass in new[] { "Connections", "RoundTrip" })
                {
                    var top = r.Syscalls.Where(x => x.Pass == pass).OrderByDescending(x => x.Calls).Take(10).ToArray();
                    if (top.Length > 0)
                        md.AppendLine($"- {r.Name}, per {(pass == "RoundTrip" ? "echo" : "connection")} (top ten): "
                            + string.Join(", ", top.Select(x => x.Syscall + " " + x.PerOperation.ToString("0.###", C) + (x.Errors > 0 ? $" ({x.Errors} errors)" : string.Empty))) + ".");
                }
            }
            md.AppendLine();
            return md.ToString();
        }

        private static string N(double? value, string format) => value == null ? "—" : value.Value.ToString(format, C);
    }
}
