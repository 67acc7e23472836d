using System;
using System.Collections.Generic;

namespace EchoPS.Measure
{
    /// <summary>
    /// One server's figures from Measure-EchoServer: medians over the rounds, ratios to the baseline, errors per
    /// figure. Times are milliseconds and every value is a plain number or text, so results serialize flat.
    /// A figure that did not run, or never succeeded, is null.
    /// </summary>
    public sealed class EchoServerMeasurement
    {
        /// <summary>The label of the server.</summary>
        public string Name { get; internal set; }

        /// <summary>host:port as given.</summary>
        public string Target { get; internal set; }

        /// <summary>The address measured (a name is resolved once, before the first round).</summary>
        public string Address { get; internal set; }

        /// <summary>The server's port.</summary>
        public int Port { get; internal set; }

        /// <summary>True for the server the others are compared with.</summary>
        public bool IsBaseline { get; internal set; }

        /// <summary>The name of the baseline server.</summary>
        public string Baseline { get; internal set; }

        /// <summary>Rounds run (figures are medians over them).</summary>
        public int Rounds { get; internal set; }

        /// <summary>The figures that ran.</summary>
        public string Figures { get; internal set; }

        /// <summary>True when every figure that ran succeeded in every round.</summary>
        public bool Success => ErrorCount == 0;

        /// <summary>Failed measurements over all figures and rounds (a failed capacity connection counts as one).</summary>
        public long ErrorCount { get; internal set; }

        /// <summary>Bytes per round-trip message.</summary>
        public int MessageSize { get; internal set; }

        /// <summary>Timed round trips per round.</summary>
        public int RoundTrips { get; internal set; }

        /// <summary>The fastest round trip of all rounds.</summary>
        public double? RttMinMs { get; internal set; }

        /// <summary>Median round trip (median over rounds).</summary>
        public double? RttP50Ms { get; internal set; }

        /// <summary>90th percentile round trip (median over rounds).</summary>
        public double? RttP90Ms { get; internal set; }

        /// <summary>99th percentile round trip (median over rounds).</summary>
        public double? RttP99Ms { get; internal set; }

        /// <summary>99.9th percentile round trip (median over rounds).</summary>
        public double? RttP999Ms { get; internal set; }

        /// <summary>The slowest round trip of all rounds.</summary>
        public double? RttMaxMs { get; internal set; }

        /// <summary>Full-duplex stream, verified bytes read back per second, in MiB (median over rounds).</summary>
        public double? StreamMiBps { get; internal set; }

        /// <summary>Sequential connections (connect, one echo, close) per second (median over rounds).</summary>
        public double? ConnectionsPerSec { get; internal set; }

        /// <summary>Mean time per sequential connection (median over rounds).</summary>
        public double? ConnectionMs { get; internal set; }

        /// <summary>Clients of the slots figure (K).</summary>
        public int SlotClients { get; internal set; }

        /// <summary>How long each slots client held its connection after its echo (H).</summary>
        public double SlotHoldMs { get; internal set; }

        /// <summary>How many clients the server served at once: those whose echo came within half a hold time (median over rounds).</summary>
        public double? Slots { get; internal set; }

        /// <summary>Each slots client's wait for its first echo, shortest first (per rank, median over rounds).</summary>
        public double?[] SlotWaitsMs { get; internal set; }

        /// <summary>Connections the capacity probe opened at once (N).</summary>
        public int CapacityRequested { get; internal set; }

        /// <summary>How long the capacity probe waited for the echoes (T).</summary>
        public double CapacityWaitMs { get; internal set; }

        /// <summary>Capacity connections that connected (median over rounds).</summary>
        public double? CapacityConnected { get; internal set; }

        /// <summary>Capacity connections whose echo came back, intact, within T (median over rounds).</summary>
        public double? CapacityEchoed { get; internal set; }

        /// <summary>From the start of the probe to the last echo that came within T (median over rounds).</summary>
        public double? CapacityLastEchoMs { get; internal set; }

        /// <summary>The kernel's TCP counters' growth during the capacity probes, all rounds (machine-wide: every process's connections count).</summary>
        public KernelCounterDelta CapacityKernel { get; internal set; }

        /// <summary>Capacity: median time to connect from the probe's start (median over rounds).</summary>
        public double? CapacityConnectP50Ms { get; internal set; }

        /// <summary>Capacity: the slowest connect of all rounds (about 1,000 ms or 3,000 ms after a listen-queue overflow: the SYN was sent again).</summary>
        public double? CapacityConnectMaxMs { get; internal set; }

        /// <summary>The load figure's steps (clients at once), medians over rounds; null when it did not run.</summary>
        public LoadStep[] Load { get; internal set; }

        /// <summary>How long each load step's timed part ran.</summary>
        public double LoadDurationMs { get; internal set; }

        /// <summary>Idle connections asked for (-IdleConnections), held silent during the figures; 0 when none.</summary>
        public int IdleAsked { get; internal set; }

        /// <summary>Idle connections the server took (connected and echoed one message) before the figures.</summary>
        public int IdleHeld { get; internal set; }

        /// <summary>Idle connections still open after the figures.</summary>
        public int IdleOpenAtEnd { get; internal set; }

        /// <summary>Every figure's and ratio's spread over the rounds: min-max, and a 95 % confidence interval with 5+ rounds.</summary>
        public FigureSpread[] Spread { get; internal set; } = new FigureSpread[0];

        /// <summary>The ratios whose interval includes 1.0 (no difference shown beyond the rounds' noise).</summary>
        public string[] WithinNoise { get; internal set; } = new string[0];

        /// <summary>RttP50Ms against the baseline's (lower is faster).</summary>
        public double? RttP50Ratio { get; internal set; }

        /// <summary>RttP99Ms against the baseline's (lower is faster).</summary>
        public double? RttP99Ratio { get; internal set; }

        /// <summary>StreamMiBps against the baseline's (higher is faster).</summary>
        public double? StreamRatio { get; internal set; }

        /// <summary>ConnectionsPerSec against the baseline's (higher is faster).</summary>
        public double? ConnectionsRatio { get; internal set; }

        /// <summary>Slots against the baseline's.</summary>
        public double? SlotsRatio { get; internal set; }

        /// <summary>CapacityEchoed against the baseline's.</summary>
        public double? CapacityRatio { get; internal set; }

        /// <summary>Failures grouped by figure and status, with counts and the first message of each.</summary>
        public MeasureError[] Errors { get; internal set; } = new MeasureError[0];

        /// <summary>What was left out or limited, and why (a figure that could not run, a probe size lowered to the descriptor limit).</summary>
        public string[] Notes { get; internal set; } = new string[0];

        /// <summary>Each round's figures, in the order measured.</summary>
        public MeasureRound[] PerRound { get; internal set; } = new MeasureRound[0];

        /// <summary>Every timed round trip of every round in ms, sorted (the latency chart); not output.</summary>
        internal double[] RttSamplesMs { get; set; }

        /// <summary>When the measurement started (local time).</summary>
        public DateTime Timestamp { get; internal set; }

        // Display figures for the format views (module/EchoPS.Format.ps1xml): plain properties, so that the views need no
        // script block and read a deserialized copy the same way.

        /// <summary>Display: <see cref="RttP50Ms"/> in microseconds.</summary>
        public double? RttP50Us => RttP50Ms * 1000;

        /// <summary>Display: <see cref="RttP99Ms"/> in microseconds.</summary>
        public double? RttP99Us => RttP99Ms * 1000;

        /// <summary>Display: <see cref="RttP999Ms"/> in microseconds.</summary>
        public double? RttP999Us => RttP999Ms * 1000;

        /// <summary>Display: slots served of clients tried, "1/8"; empty when the figure was not measured.</summary>
        public string SlotsText => Slots == null ? null : Slots.Value.ToString("0.#", System.Globalization.CultureInfo.CurrentCulture) + "/" + SlotClients;

        /// <summary>Display: connections echoed of those asked for, "1000/1000"; empty when the figure was not measured.</summary>
        public string CapacityText => CapacityEchoed == null ? null : CapacityEchoed.Value.ToString("0.#", System.Globalization.CultureInfo.CurrentCulture) + "/" + CapacityRequested;

        /// <inheritdoc />
        public override string ToString() => $"{Name} {Target} errors {ErrorCount}";

        /// <summary>The command line the measurer started the server with ({port} filled in); null for a server already running.</summary>
        public string ServerCommand { get; internal set; }

        /// <summary>The CPUs the server (started here or found) may run on, read from the process: "1", or "not pinned"; null when not observed.</summary>
        public string ServerCpus { get; internal set; }

        /// <summary>The started server's output (standard output and error), kept.</summary>
        public string ServerLog { get; internal set; }

        /// <summary>The server process observed (the root of its tree); null when none could be.</summary>
        public int? ServerProcessId { get; internal set; }

        /// <summary>How the server's cost was read (its cgroup, /proc ticks), or "not observed: why".</summary>
        public string ServerObserved { get; internal set; }

        /// <summary>Server CPU µs (user + system, every thread and child) per round trip (median over rounds).</summary>
        public double? ServerCpuUsPerRoundTrip { get; internal set; }

        /// <summary>Server CPU µs per connection (connect, one echo, close), children included.</summary>
        public double? ServerCpuUsPerConnection { get; internal set; }

        /// <summary>Server CPU µs per MiB streamed (echoed).</summary>
        public double? ServerCpuUsPerMiB { get; internal set; }

        /// <summary>Server context switches (voluntary + involuntary) per connection, read per live thread; where tasks started or ended during the figure (a fork or thread server) /proc cannot give them, and this is -Trace's perf stat count per connection instead, or null without -Trace.</summary>
        public double? ServerSwitchesPerConnection { get; internal set; }

        /// <summary>Server page faults per connection.</summary>
        public double? ServerFaultsPerConnection { get; internal set; }

        /// <summary>The most resident memory of the whole server tree seen (MiB, sampled every 50 ms).</summary>
        public double? ServerPeakRssMiB { get; internal set; }

        /// <summary>The most tasks (threads of every process of the tree) seen at once.</summary>
        public int? ServerPeakTasks { get; internal set; }

        /// <summary>ServerCpuUsPerRoundTrip against the baseline's (lower is cheaper).</summary>
        public double? ServerCpuPerRoundTripRatio { get; internal set; }

        /// <summary>ServerCpuUsPerConnection against the baseline's (lower is cheaper).</summary>
        public double? ServerCpuPerConnectionRatio { get; internal set; }

        /// <summary>ServerCpuUsPerMiB against the baseline's (lower is cheaper).</summary>
        public double? ServerCpuPerMiBRatio { get; internal set; }

        /// <summary>The server's cost of each figure (medians over rounds).</summary>
        public ServerFigureCost[] ServerCost { get; internal set; } = new ServerFigureCost[0];

        /// <summary>The server's CPU per operation over the rounds, per figure; Spread lists them too.</summary>
        internal FigureSpread[] ServerSpread { get; set; } = new FigureSpread[0];

        /// <summary>The server's CPU per operation in each round (index: round - 1), by figure: the server ratios' spread pairs them.</summary>
        internal Dictionary<MeasureFigure, double?[]> ServerCpuRounds { get; set; } = new Dictionary<MeasureFigure, double?[]>();

        /// <summary>With -Trace: syscalls by name per echo and per connection, from strace -f -c of a pass of their own.</summary>
        public SyscallCount[] Syscalls { get; internal set; } = new SyscallCount[0];

        /// <summary>With -Trace: all syscalls per echo.</summary>
        public double? SyscallsPerRoundTrip { get; internal set; }

        /// <summary>With -Trace: all syscalls per connection.</summary>
        public double? SyscallsPerConnection { get; internal set; }

        /// <summary>With -Trace: perf stat's task-clock per connection over a pass of its own (children included).</summary>
        public double? PerfCpuUsPerConnection { get; internal set; }

        /// <summary>With -Trace: perf stat's context switches per connection.</summary>
        public double? PerfSwitchesPerConnection { get; internal set; }

        /// <summary>With -Trace: the measurer's own server CPU per connection over the same perf pass (the cross-check).</summary>
        public double? ObservedCpuUsPerConnectionUnderPerf { get; internal set; }

        /// <summary>With -Trace: what the traced passes could not do, and why.</summary>
        public string TraceNote { get; internal set; }
    }

    /// <summary>One figure's failures of one kind: how many, and what the first one said.</summary>
    public sealed class MeasureError
    {
        /// <summary>The figure: RoundTrip, Stream, Connections, Slots or Capacity.</summary>
        public string Figure { get; internal set; }

        /// <summary>What happened: Refused, TimedOut, Reset, Mismatch, ClosedEarly, ...</summary>
        public string Status { get; internal set; }

        /// <summary>How many times, over all rounds.</summary>
        public long Count { get; internal set; }

        /// <summary>The first failure's message: sizes and endpoints only, never payload.</summary>
        public string Message { get; internal set; }

        /// <inheritdoc />
        public override string ToString() => $"{Figure} {Status} x{Count}: {Message}";
    }

    /// <summary>One round's figures for one server; null where the figure did not run or failed.</summary>
    public sealed class MeasureRound
    {
        /// <summary>The round, from 1.</summary>
        public int Round { get; internal set; }

        /// <summary>Fastest round trip.</summary>
        public double? RttMinMs { get; internal set; }

        /// <summary>Median round trip.</summary>
        public double? RttP50Ms { get; internal set; }

        /// <summary>90th percentile round trip.</summary>
        public double? RttP90Ms { get; internal set; }

        /// <summary>99th percentile round trip.</summary>
        public double? RttP99Ms { get; internal set; }

        /// <summary>99.9th percentile round trip.</summary>
        public double? RttP999Ms { get; internal set; }

        /// <summary>Slowest round trip.</summary>
        public double? RttMaxMs { get; internal set; }

        /// <summary>Stream throughput, MiB/s.</summary>
        public double? StreamMiBps { get; internal set; }

        /// <summary>Sequential connections per second.</summary>
        public double? ConnectionsPerSec { get; internal set; }

        /// <summary>Mean time per connection.</summary>
        public double? ConnectionMs { get; internal set; }

        /// <summary>Clients served at once.</summary>
        public int? Slots { get; internal set; }

        /// <summary>Each slots client's wait for its first echo, shortest first (null for a client that got none).</summary>
        public double?[] SlotWaitsMs { get; internal set; }

        /// <summary>Capacity connections that connected.</summary>
        public int? CapacityConnected { get; internal set; }

        /// <summary>Capacity connections echoed within T.</summary>
        public int? CapacityEchoed { get; internal set; }

        /// <summary>Time to the last capacity echo within T.</summary>
        public double? CapacityLastEchoMs { get; internal set; }

        /// <summary>The kernel's TCP counters' growth during this round's capacity probe (machine-wide).</summary>
        public KernelCounterDelta CapacityKernel { get; internal set; }

        /// <summary>Capacity: median time to connect from the probe's start.</summary>
        public double? CapacityConnectP50Ms => Quantile(CapacityConnectTimesMs, 0.5);

        /// <summary>Capacity: the slowest connect.</summary>
        public double? CapacityConnectMaxMs => Quantile(CapacityConnectTimesMs, 1);

        /// <summary>Capacity: each connection's time to connect from the probe's start, sorted; not output.</summary>
        internal double[] CapacityConnectTimesMs { get; set; }

        /// <summary>The load figure's steps in this round.</summary>
        public LoadStep[] Load { get; internal set; }

        private static double? Quantile(double[] sorted, double q) =>
            sorted == null || sorted.Length == 0 ? (double?)null : sorted[Math.Max(1, Math.Min(sorted.Length, (int)Math.Ceiling(q * sorted.Length))) - 1];

        /// <summary>Each capacity echo's time from the probe's start, sorted (the capacity chart); not output.</summary>
        internal double[] CapacityEchoTimesMs { get; set; }
    }

    /// <summary>A progress report of a measurement, given between measurements, never during one.</summary>
    public sealed class MeasureProgress
    {
        internal MeasureProgress(int percent, string activity, string status)
        {
            PercentComplete = percent;
            Activity = activity;
            Status = status;
        }

        /// <summary>0 to 100.</summary>
        public int PercentComplete { get; }

        /// <summary>The round.</summary>
        public string Activity { get; }

        /// <summary>The figure and server about to be measured.</summary>
        public string Status { get; }
    }

    /// <summary>Failures of one figure of one server, collected during the rounds.</summary>
    internal sealed class ErrorTally
    {
        private readonly Dictionary<string, MeasureError> _byKey = new Dictionary<string, MeasureError>();
        private readonly List<MeasureError> _inOrder = new List<MeasureError>();

        internal long Total { get; private set; }

        internal void Add(MeasureFigure figure, string status, string message, long count = 1)
        {
            if (count <= 0)
                return;
            string key = figure + "/" + status;
            if (!_byKey.TryGetValue(key, out var error))
            {
                error = new MeasureError { Figure = figure == MeasureFigure.None ? "Reach" : figure.ToString(), Status = status, Message = message };
                _byKey[key] = error;
                _inOrder.Add(error);
            }
            error.Count += count;
            Total += count;
        }

        internal MeasureError[] ToArray() => _inOrder.ToArray();
    }
}
