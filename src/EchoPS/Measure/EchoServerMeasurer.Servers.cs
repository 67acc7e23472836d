using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;

namespace EchoPS.Measure
{
    /// <summary>
    /// The server's side of a measurement: starting command targets (pinned, in a cgroup of their own) and stopping
    /// their whole tree, observing every local server's cost before and after each figure, the traced pass, and
    /// the environment the run had.
    /// </summary>
    public sealed partial class EchoServerMeasurer
    {
        private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
        private MeasureEnvironment _environment;

        /// <summary>Starts command targets, then finds the process of every local host:port target.</summary>
        private void StartServers(TargetState[] states, Action<MeasureProgress> onProgress)
        {
            string folder = _options.ServerOutputFolder ?? Path.Combine(Path.GetTempPath(), "echops-measure-" + Guid.NewGuid().ToString("N").Substring(0, 8));
            foreach (var state in states)
            {
                var side = state.Side;
                var target = state.Target;
                if (target.Command != null)
                {
                    onProgress?.Invoke(new MeasureProgress(0, "Starting the servers", target.ToString()));
                    try
                    {
                        side.Started = ServerProcess.Start(target.Name, target.Command, _options.WorkingDirectory, folder,
                            _options.ServerCpus, _options.StartTimeout, () => _cancelled);
                    }
                    catch (ServerStartException ex)
                    {
                        state.Notes.Add("Not measured: " + ex.Message);
                        state.Errors.Add(MeasureFigure.None, "NotStarted", ex.Message);
                        side.NotObserved = "the server did not start";
                        side.NotStarted = true;
                        continue;
                    }
                    target.Port = side.Started.Port;
                    side.Notes.AddRange(side.Started.Notes);
                    side.Observer = ServerObserver.ForStarted(side.Started);
                }
                else
                    side.Observer = FindLocal(state);
                side.Observer?.StartSampling();
            }
            _environment = MeasureEnvironment.Begin(_options.ServerCpus, states.Select(s => s.Side.Observer).Where(o => o != null).ToArray());
        }

        /// <summary>The process behind a host:port target on this machine (by -ProcessId or its port); null with a note elsewhere.</summary>
        private static ServerObserver FindLocal(TargetState state)
        {
            var side = state.Side;
            var target = state.Target;
            if (!ProcFs.Available)
            {
                side.NotObserved = "not Linux: no /proc to read";
                return null;
            }
            int pid = target.ProcessId;
            string how = "given by -ProcessId";
            int self = System.Diagnostics.Process.GetCurrentProcess().Id;
            if (pid == 0)
            {
                if (!IsLocal(target.Host))
                {
                    side.NotObserved = $"{target.Host} is not this machine";
                    return null;
                }
                int? found = ServerObserver.FindListener(target.Port, out string why);
                if (found == null)
                {
                    side.NotObserved = why;
                    return null;
                }
                pid = found.Value;
                how = $"found listening on port {target.Port}";
            }
            if (pid == self)
            {
                side.NotObserved = "the server runs inside the measuring process (a job of this session): its cost cannot be told apart from the measurer's own; start it as a command target (EchoPS) to see it";
                return null;
            }
            try
            {
                return ServerObserver.ForProcess(pid, how, side.Notes);
            }
            catch (ArgumentException ex)
            {
                side.NotObserved = ex.Message;
                return null;
            }
        }

        private static bool IsLocal(string host)
        {
            if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
                return true;
            if (!IPAddress.TryParse(host.Trim('[', ']'), out var address))
                return false; // a name is not resolved here: only literal and localhost targets are observed
            if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any))
                return true;
            try
            {
                return System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
                    .SelectMany(n => n.GetIPProperties().UnicastAddresses).Any(u => u.Address.Equals(address));
            }
            catch (System.Net.NetworkInformation.NetworkInformationException)
            {
                return false;
            }
        }

        /// <summary>
        /// A server the measurer started is new: a short pass of round trips, stream and connections first (its
        /// runtime compiles its code paths, the kernel warms up), then a wait (at most 20 s) until its CPU use falls
        /// under 1 %, so that no figure measures a JIT at work beside it on the same CPU. The measurer warms up too.
        /// </summary>
        private void WarmUpStarted(TargetState[] states)
        {
            foreach (var state in states.Where(s => s.Side.Started != null && s.EndPoint != null))
            {
                var scratch = new TargetState(state.Target) { Address = state.Address, EndPoint = state.EndPoint };
                var round = new MeasureRound();
                MeasureRoundTrip(scratch, round);
                MeasureStream(scratch, round);
                MeasureConnections(scratch, round);
                var observer = state.Side.Observer;
                var clock = System.Diagnostics.Stopwatch.StartNew();
                double? last = observer.Snapshot().CpuUs;
                while (clock.Elapsed < TimeSpan.FromSeconds(20) && last != null && !_cancelled)
                {
                    System.Threading.Thread.Sleep(250);
                    double? now = observer.Snapshot().CpuUs;
                    if (now == null || now.Value - last.Value < 2500)
                        break;
                    last = now;
                }
                if (clock.Elapsed >= TimeSpan.FromSeconds(20))
                    state.Side.Notes.Add("Still busy 20 s after its warm-up: measured anyway.");
            }
        }

        /// <summary>Runs one figure between two snapshots of the server's counters.</summary>
        private void Observed(MeasureFigure figure, TargetState state, MeasureRound round, int capacity, Action measure)
        {
            var side = state.Side;
            var observer = side.Observer;
            var before = observer?.Snapshot();
            side.LastOperations = 0;
            measure();
            if (observer == null)
                return;
            var after = observer.Snapshot();
            double ops = Operations(figure, side.LastOperations, capacity);
            while (side.Rounds.Count < round.Round)
                side.Rounds.Add(new Dictionary<MeasureFigure, ServerFigureCost>());
            side.Rounds[round.Round - 1][figure] = ServerSide.Between(figure, before, after, ops);
        }

        private double Operations(MeasureFigure figure, double counted, int capacity)
        {
            switch (figure)
            {
                case MeasureFigure.RoundTrip: return _options.RoundTripCount + 1; // the warm-up echo too
                case MeasureFigure.Stream: return counted; // MiB streamed
                case MeasureFigure.Load: return counted; // round trips of every step
                case MeasureFigure.Connections: return _options.ConnectionCount;
                case MeasureFigure.Slots: return _options.SlotClients;
                default: return capacity;
            }
        }

        /// <summary>Stops every server the measurer started (whole tree), and moves observed processes back.</summary>
        private void StopServers(TargetState[] states)
        {
            // Last observed first: a measuring cgroup's processes go back to where they came from, which may be an earlier one's.
            foreach (var state in states.Reverse())
            {
                var side = state.Side;
                side.Observer?.Dispose();
                if (side.Started != null)
                {
                    side.Started.Stop(_options.StopGrace);
                    foreach (var note in side.Started.Notes.Where(n => !side.Notes.Contains(n)))
                        side.Notes.Add(note);
                }
            }
        }

        /// <summary>The environment's end, then the traced pass of every observed server (when asked).</summary>
        private void TraceServers(TargetState[] states)
        {
            _environment?.End(Setup);
            if (!_options.Trace)
                return;
            foreach (var state in states.Where(s => s.EndPoint != null))
            {
                if (state.Side.Observer == null)
                {
                    state.Side.TraceNote = "Not traced: " + (state.Side.NotObserved ?? "no process to trace") + ".";
                    continue;
                }
                SyscallTrace.Run(state.Side, state.Side.Observer, _options.TraceCount,
                    () => { var o = ClientOptions(state, Client.EchoTestMode.RoundTrip); o.Count = _options.TraceCount - 1; RunClient(o, state.Address); },
                    () => WithSockets(sockets =>
                    {
                        // Traced connections run several times slower: 100 ms each, beyond the figure's own bound.
                        var bound = TimeSpan.FromTicks(2 * _options.Timeout.Ticks) + TimeSpan.FromMilliseconds(100.0 * _options.TraceCount);
                        using (var clock = new FigureClock(bound, sockets))
                            return ConnectionRateProbe.Run(state.EndPoint, _options.TraceCount,
                                RepeatingPatternMessage(), _options.Timeout, sockets, new ErrorTally(), clock);
                    }),
                    () => _cancelled);
            }
        }

        private byte[] RepeatingPatternMessage() => Client.RepeatingPattern.Create(null, _options.MessageSize).Bytes.Take(_options.MessageSize).ToArray();

        /// <summary>The server's side of one result: costs per figure (medians), peaks, trace and what was not observed.</summary>
        private static void FillServerSide(EchoServerMeasurement m, TargetState state, MeasureFigure[] figures)
        {
            var side = state.Side;
            m.ServerCommand = side.Started?.Command;
            m.ServerCpus = side.Observer == null ? null : Pinning(side.Observer.TraceRoot());
            m.ServerLog = side.Started?.OutputPath;
            m.ServerProcessId = side.Observer?.ProcessId;
            m.ServerObserved = side.Observer?.Source ?? "not observed: " + (side.NotObserved ?? "no local process");
            var costs = side.Medians(figures);
            m.ServerCost = costs;
            m.ServerSpread = side.CpuSpread(figures);
            foreach (var figure in figures)
                m.ServerCpuRounds[figure] = side.Rounds.Select(r => r.TryGetValue(figure, out var c) ? c.CpuUsPerOp : null).ToArray();
            ServerFigureCost of(MeasureFigure f) => costs.FirstOrDefault(c => c.Figure == f.ToString());
            m.ServerCpuUsPerRoundTrip = of(MeasureFigure.RoundTrip)?.CpuUsPerOp;
            m.ServerCpuUsPerMiB = of(MeasureFigure.Stream)?.CpuUsPerOp;
            m.ServerCpuUsPerConnection = of(MeasureFigure.Connections)?.CpuUsPerOp;
            var conn = of(MeasureFigure.Connections);
            m.ServerSwitchesPerConnection = conn?.VoluntarySwitchesPerOp + conn?.InvoluntarySwitchesPerOp ?? side.PerfSwitchesPerConnection;
            m.ServerFaultsPerConnection = conn?.FaultsPerOp;
            if (side.Observer != null)
            {
                var (rss, tasks) = side.Observer.Peaks;
                m.ServerPeakRssMiB = rss > 0 ? rss / 1024.0 : (double?)null;
                m.ServerPeakTasks = tasks > 0 ? tasks : (int?)null;
            }
            m.Syscalls = side.Syscalls.ToArray();
            m.SyscallsPerRoundTrip = SumPer(side.Syscalls, "RoundTrip");
            m.SyscallsPerConnection = SumPer(side.Syscalls, "Connections");
            m.PerfCpuUsPerConnection = side.PerfCpuUsPerConnection;
            m.PerfSwitchesPerConnection = side.PerfSwitchesPerConnection;
            m.ObservedCpuUsPerConnectionUnderPerf = side.ObservedCpuUsPerConnectionUnderPerf;
            m.TraceNote = string.Join(" ", new[] { side.TraceNote, side.PerfNote }.Where(n => n != null));
            if (m.TraceNote.Length == 0)
                m.TraceNote = null;
            m.Notes = m.Notes.Concat(side.Notes).ToArray();
        }

        /// <summary>The CPUs a process may run on, or "not pinned" when that is every CPU of the machine; null when unreadable.</summary>
        private static string Pinning(int pid)
        {
            var cpus = ProcFs.Affinity(pid.ToString(Inv));
            int? machine = ProcFs.MachineCpus();
            return cpus == null ? null : machine != null && cpus.Count >= machine ? "not pinned" : ProcFs.FormatCpuList(cpus);
        }

        private static double? SumPer(List<SyscallCount> rows, string pass)
        {
            var of = rows.Where(r => r.Pass == pass).ToArray();
            return of.Length == 0 ? (double?)null : of.Sum(r => r.PerOperation);
        }
    }
}
