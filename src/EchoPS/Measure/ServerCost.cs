using System;
using System.Collections.Generic;
using System.Linq;

namespace EchoPS.Measure
{
    /// <summary>
    /// What one figure cost the server (every thread and process of it, children that ended included where its
    /// cgroup is read): CPU time, context switches and page faults, in all and per operation. Null where a value
    /// could not be observed (see <see cref="Note"/>), never a zero that was not measured.
    /// </summary>
    public sealed class ServerFigureCost
    {
        /// <summary>The figure: RoundTrip, Stream, Connections, Slots, Capacity or Load.</summary>
        public string Figure { get; internal set; }

        /// <summary>What one operation is: round trip, MiB, connection, client.</summary>
        public string Unit { get; internal set; }

        /// <summary>Operations the figure made (median over rounds).</summary>
        public double? Operations { get; internal set; }

        /// <summary>Server CPU time, user plus system, in µs (median over rounds).</summary>
        public double? CpuUs { get; internal set; }

        /// <summary>Of which user time, µs (null where the source does not split it).</summary>
        public double? UserUs { get; internal set; }

        /// <summary>Of which system (kernel) time, µs.</summary>
        public double? SystemUs { get; internal set; }

        /// <summary>Server CPU µs per operation.</summary>
        public double? CpuUsPerOp { get; internal set; }

        /// <summary>Voluntary context switches (the server waited) per operation.</summary>
        public double? VoluntarySwitchesPerOp { get; internal set; }

        /// <summary>Involuntary context switches (the server was preempted) per operation.</summary>
        public double? InvoluntarySwitchesPerOp { get; internal set; }

        /// <summary>Page faults (minor and major) per operation.</summary>
        public double? FaultsPerOp { get; internal set; }

        /// <summary>What could not be observed, and why.</summary>
        public string Note { get; internal set; }

        /// <inheritdoc />
        public override string ToString() => $"{Figure}: {CpuUsPerOp:0.0} µs CPU per {Unit}";
    }

    /// <summary>One syscall of a server under strace -f -c, in one traced pass (round trips or connections).</summary>
    public sealed class SyscallCount
    {
        /// <summary>The pass: RoundTrip (per echo) or Connections (per connection).</summary>
        public string Pass { get; internal set; }

        /// <summary>The syscall's name.</summary>
        public string Syscall { get; internal set; }

        /// <summary>Calls in the pass (every thread and child).</summary>
        public long Calls { get; internal set; }

        /// <summary>Calls that returned an error (an accept interrupted by SIGCHLD: EINTR).</summary>
        public long Errors { get; internal set; }

        /// <summary>Calls per operation of the pass (per echo, or per connection).</summary>
        public double PerOperation { get; internal set; }

        /// <inheritdoc />
        public override string ToString() => $"{Pass} {Syscall} {PerOperation:0.###}/op";
    }

    /// <summary>One local server's side of a measurement, collected while the rounds run.</summary>
    internal sealed class ServerSide
    {
        internal ServerProcess Started { get; set; }
        internal ServerObserver Observer { get; set; }
        internal string NotObserved { get; set; }
        internal bool NotStarted { get; set; }
        internal ServerSnapshot Before { get; set; }
        internal double LastOperations { get; set; }
        internal List<string> Notes { get; } = new List<string>();
        internal List<SyscallCount> Syscalls { get; } = new List<SyscallCount>();
        internal string TraceNote { get; set; }
        internal double? PerfCpuUsPerConnection { get; set; }
        internal double? PerfSwitchesPerConnection { get; set; }
        internal double? ObservedCpuUsPerConnectionUnderPerf { get; set; }
        internal string PerfNote { get; set; }
        internal double? CpuUsUnderTrace { get; set; }

        /// <summary>Each round's costs, by figure.</summary>
        internal List<Dictionary<MeasureFigure, ServerFigureCost>> Rounds { get; } = new List<Dictionary<MeasureFigure, ServerFigureCost>>();

        internal static string UnitOf(MeasureFigure figure)
        {
            switch (figure)
            {
                case MeasureFigure.RoundTrip: return "round trip";
                case MeasureFigure.Stream: return "MiB";
                case MeasureFigure.Connections: return "connection";
                case MeasureFigure.Slots: return "client";
                case MeasureFigure.Load: return "round trip";
                default: return "connection";
            }
        }

        /// <summary>The cost between two snapshots over <paramref name="operations"/> operations.</summary>
        internal static ServerFigureCost Between(MeasureFigure figure, ServerSnapshot before, ServerSnapshot after, double operations)
        {
            var cost = new ServerFigureCost { Figure = figure.ToString(), Unit = UnitOf(figure), Operations = operations };
            var notes = new List<string>();
            double? per(double? v) => v == null || operations <= 0 ? (double?)null : v.Value / operations;
            if (before.CpuUs != null && after.CpuUs != null)
            {
                cost.CpuUs = Math.Max(0, after.CpuUs.Value - before.CpuUs.Value);
                cost.UserUs = after.UserUs - before.UserUs;
                cost.SystemUs = after.SystemUs - before.SystemUs;
                cost.CpuUsPerOp = per(cost.CpuUs);
                if (!after.CpuMicrosecondResolution)
                    notes.Add("CPU in 10 ms ticks");
            }
            else
                notes.Add("CPU not observed");
            if (before.Faults != null && after.Faults != null)
                cost.FaultsPerOp = per(Math.Max(0, after.Faults.Value - before.Faults.Value));
            // Context switches are read per live thread: those of tasks that ended during the figure are gone.
            bool ended = before.TaskIds.Any(t => !after.TaskIds.Contains(t)) || after.TaskIds.Any(t => !before.TaskIds.Contains(t))
                || (after.Faults ?? 0) > 0 && after.Processes != before.Processes;
            if (before.VoluntarySwitches != null && after.VoluntarySwitches != null && !ended)
            {
                cost.VoluntarySwitchesPerOp = per(Math.Max(0, after.VoluntarySwitches.Value - before.VoluntarySwitches.Value));
                cost.InvoluntarySwitchesPerOp = per(Math.Max(0, after.InvoluntarySwitches.Value - before.InvoluntarySwitches.Value));
            }
            else
                notes.Add(ended ? "context switches not observed: tasks started or ended during the figure (-Trace's perf stat counts them)" : "context switches not readable");
            cost.Note = notes.Count == 0 ? null : string.Join("; ", notes);
            return cost;
        }

        /// <summary>The spread over the rounds of the server's CPU per operation, per figure: "ServerLoadCpuUsPerOp", ...</summary>
        internal FigureSpread[] CpuSpread(IEnumerable<MeasureFigure> figures) => figures
            .Select(f => Spread.Of($"Server{f}CpuUsPerOp", Rounds.Where(r => r.ContainsKey(f)).Select(r => r[f].CpuUsPerOp).ToArray(), isRatio: false))
            .Where(s => s != null).ToArray();

        /// <summary>The median of each value over the rounds, per figure.</summary>
        internal ServerFigureCost[] Medians(IEnumerable<MeasureFigure> figures)
        {
            var list = new List<ServerFigureCost>();
            foreach (var figure in figures)
            {
                var all = Rounds.Where(r => r.ContainsKey(figure)).Select(r => r[figure]).ToArray();
                if (all.Length == 0)
                    continue;
                double? m(Func<ServerFigureCost, double?> f) => EchoServerMeasurer.Median(all.Select(f));
                list.Add(new ServerFigureCost
                {
                    Figure = figure.ToString(),
                    Unit = UnitOf(figure),
                    Operations = m(c => c.Operations),
                    CpuUs = m(c => c.CpuUs),
                    UserUs = m(c => c.UserUs),
                    SystemUs = m(c => c.SystemUs),
                    CpuUsPerOp = m(c => c.CpuUsPerOp),
                    VoluntarySwitchesPerOp = m(c => c.VoluntarySwitchesPerOp),
                    InvoluntarySwitchesPerOp = m(c => c.InvoluntarySwitchesPerOp),
                    FaultsPerOp = m(c => c.FaultsPerOp),
                    Note = all.Select(c => c.Note).FirstOrDefault(n => n != null),
                });
            }
            return list.ToArray();
        }
    }
}
