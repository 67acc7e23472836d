using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Runtime.InteropServices;
using EchoPS.Client;

namespace EchoPS.Measure
{
    /// <summary>
    /// The lab's standard measurement of one or more echo servers: round trip, stream, connections, slots and
    /// capacity, each server measured in turn within every round (the order reversed every other round) so that a
    /// noisy machine's drift falls on all of them alike; medians over the rounds, ratios to a baseline.
    /// Round trip, stream and slots run through the client engine (<see cref="EchoClient"/>); the connection loop
    /// and the capacity probe are here. Knows nothing of PowerShell: progress comes through a callback on the
    /// calling thread, between measurements only. <see cref="Cancel"/> may be called from any thread.
    /// </summary>
    public sealed partial class EchoServerMeasurer : IDisposable
    {
        // Descriptors kept free for everything else the process does while the capacity probe runs.
        private const int DescriptorReserve = 64;

        private readonly MeasureOptions _options;
        private readonly object _gate = new object();
        private volatile bool _cancelled;
        private EchoClient _client;
        private ProbeSockets _sockets;

        /// <summary>Creates a measurer; nothing is opened until <see cref="Run"/>.</summary>
        public EchoServerMeasurer(MeasureOptions options)
        {
            _options = options ?? throw new ArgumentNullException(nameof(options));
        }

        /// <summary>The machine and set-up the last run measured on, for the report.</summary>
        public MeasureSetup Setup { get; private set; }

        /// <summary>
        /// Measures every target and returns one result each, in the order given. Failures are counted in the
        /// results, never thrown; every wait is bounded.
        /// </summary>
        /// <exception cref="ArgumentException">An option is out of range.</exception>
        /// <exception cref="OperationCanceledException">The run was cancelled.</exception>
        public EchoServerMeasurement[] Run(IReadOnlyList<MeasureTarget> targets, Action<MeasureProgress> onProgress = null)
        {
            _options.Validate(targets);
            var states = targets.Select(t => new TargetState(t)).ToArray();
            Setup = MeasureSetup.Describe(_options, targets);
            var figures = new[] { MeasureFigure.RoundTrip, MeasureFigure.Stream, MeasureFigure.Connections, MeasureFigure.Slots, MeasureFigure.Capacity, MeasureFigure.Load }
                .Where(f => (_options.Figures & f) != 0).ToArray();
            int capacity = (_options.Figures & MeasureFigure.Capacity) != 0 ? CapacityAllowed() : 0;

            int steps = states.Length + _options.Rounds * figures.Length * states.Length, step = 0;
            try
            {
                return RunWithServers(states, figures, capacity, steps, step, onProgress);
            }
            finally
            {
                StopServers(states);
            }
        }

        private EchoServerMeasurement[] RunWithServers(TargetState[] states, MeasureFigure[] figures, int capacity, int steps, int step, Action<MeasureProgress> onProgress)
        {
            StartServers(states, onProgress);
            foreach (var state in states)
            {
                Report(onProgress, step++, steps, "Checking the servers", $"{state.Target}: one round trip");
                Preflight(state);
            }
            WarmUpStarted(states);
            OpenIdle(states);
            for (int round = 1; round <= _options.Rounds; round++)
            {
                var order = round % 2 == 1 ? states : states.Reverse().ToArray();
                var rounds = states.ToDictionary(s => s, s => new MeasureRound { Round = round });
                foreach (var figure in figures)
                {
                    foreach (var state in order)
                    {
                        Report(onProgress, step++, steps, $"Round {round} of {_options.Rounds}", $"{figure}: {state.Target}");
                        if (state.EndPoint == null)
                            continue;
                        Observed(figure, state, rounds[state], capacity, () => Measure(figure, state, rounds[state], capacity));
                    }
                }
                foreach (var state in states)
                    state.Rounds.Add(rounds[state]);
            }
            TraceServers(states);
            var results = states.Select(s => s.ToMeasurement(_options, figures, capacity)).ToArray();
            for (int i = 0; i < states.Length; i++)
                FillServerSide(results[i], states[i], figures);
            CloseIdle(states, results);
            Ratios.Fill(results, _options.BaselineIndex);
            Spread.Fill(results, _options.BaselineIndex);
            return results;
        }

        /// <summary>The bound of each figure and of the whole run (issue 23, item 3), for -Verbose.</summary>
        public static string DescribeBounds(MeasureOptions options, int servers) => FigureBounds.Describe(options, servers);

        /// <summary>Stops a run from any thread: closes its sockets, which wakes whatever is blocked.</summary>
        public void Cancel()
        {
            lock (_gate)
            {
                _cancelled = true;
                _client?.Cancel();
                _sockets?.Dispose();
                CloseIdle();
            }
        }

        /// <summary>Cancels anything still running.</summary>
        public void Dispose() => Cancel();

        private static void Report(Action<MeasureProgress> onProgress, int step, int steps, string activity, string status) =>
            onProgress?.Invoke(new MeasureProgress(step * 100 / Math.Max(1, steps), activity, status));

        /// <summary>One round trip through the client engine: resolves the name once and checks that something echoes.</summary>
        private void Preflight(TargetState state)
        {
            if (state.Side.NotStarted)
                return; // a command target that did not start: its error is counted, nothing to measure

            var options = ClientOptions(state, EchoTestMode.RoundTrip);
            options.Count = 1;
            options.Deadline = FigureBounds.For(MeasureFigure.None, _options);
            var result = RunClient(options, state.Target.Host);
            if (string.IsNullOrEmpty(result.Address) || !IPAddress.TryParse(result.Address, out var address))
            {
                state.Notes.Add($"Not measured: {result.Message}");
                state.Errors.Add(MeasureFigure.None, result.Status.ToString(), result.Message);
                return;
            }
            state.Address = result.Address;
            state.EndPoint = new IPEndPoint(address, state.Target.Port);
            if (!result.Success)
                state.Notes.Add($"The first round trip failed ({result.Status}: {result.Message}); measured anyway, failures are counted per figure.");
        }

        private void Measure(MeasureFigure figure, TargetState state, MeasureRound round, int capacity)
        {
            switch (figure)
            {
                case MeasureFigure.RoundTrip:
                    MeasureRoundTrip(state, round);
                    break;
                case MeasureFigure.Stream:
                    MeasureStream(state, round);
                    break;
                case MeasureFigure.Connections:
                    MeasureConnections(state, round);
                    break;
                case MeasureFigure.Slots:
                    MeasureSlots(state, round);
                    break;
                case MeasureFigure.Capacity:
                    MeasureCapacity(state, round, capacity);
                    break;
                case MeasureFigure.Load:
                    MeasureLoad(state, round);
                    break;
            }
        }

        private void MeasureRoundTrip(TargetState state, MeasureRound round)
        {
            var options = ClientOptions(state, EchoTestMode.RoundTrip);
            options.Count = _options.RoundTripCount;
            options.Deadline = FigureBounds.For(MeasureFigure.RoundTrip, _options);
            var result = RunClient(options, state.Address);
            if (!result.Success)
            {
                state.Errors.Add(MeasureFigure.RoundTrip, result.Status.ToString(), result.Message);
                return;
            }
            var sorted = result.SortedRttTicks;
            round.RttMinMs = result.RttMinMs;
            round.RttP50Ms = result.RttP50Ms;
            round.RttP90Ms = result.RttP90Ms;
            round.RttP99Ms = result.RttP99Ms;
            round.RttP999Ms = LatencyStats.ToMs(LatencyStats.Percentile(sorted, 0.999));
            round.RttMaxMs = result.RttMaxMs;
            state.RttSamplesMs.AddRange(sorted.Select(LatencyStats.ToMs));
        }

        private void MeasureStream(TargetState state, MeasureRound round)
        {
            var options = ClientOptions(state, EchoTestMode.Throughput);
            options.Size = _options.StreamChunkSize;
            options.Duration = _options.StreamDuration;
            options.Deadline = FigureBounds.For(MeasureFigure.Stream, _options);
            var result = RunClient(options, state.Address);
            state.Side.LastOperations = result.BytesReceived / 1048576.0;
            if (result.Success)
                round.StreamMiBps = result.ThroughputMiBps;
            else
                state.Errors.Add(MeasureFigure.Stream, result.Status.ToString(), result.Message);
        }

        private void MeasureSlots(TargetState state, MeasureRound round)
        {
            var options = ClientOptions(state, EchoTestMode.Concurrency);
            options.Concurrency = _options.SlotClients;
            options.Hold = _options.SlotHold;
            options.Deadline = FigureBounds.For(MeasureFigure.Slots, _options);
            var result = RunClient(options, state.Address);
            var clients = result.Clients ?? new EchoClientWait[0];
            foreach (var failed in clients.Where(c => c.Status != EchoRoundTripStatus.Success).GroupBy(c => c.Status))
                state.Errors.Add(MeasureFigure.Slots, failed.Key.ToString(), $"Client {failed.First().Client}: {failed.First().Message}", failed.Count());
            if (clients.Length == 0)
            {
                state.Errors.Add(MeasureFigure.Slots, result.Status.ToString(), result.Message);
                return;
            }
            round.SlotWaitsMs = clients.Select(c => c.WaitMs).ToArray();
            round.Slots = CountSlots(clients.Select(c => c.WaitMs), _options.SlotHold.TotalMilliseconds);
        }

        /// <summary>
        /// Clients served at once got their echo within half a hold time of the first client's; one that queued
        /// waited at least a whole hold more. Counting from the first wait, not from zero, keeps a slow start
        /// (a fork per client on a busy machine) from hiding slots.
        /// </summary>
        internal static int CountSlots(IEnumerable<double?> waitsMs, double holdMs)
        {
            var waits = waitsMs.Where(w => w != null).Select(w => w.Value).ToArray();
            return waits.Length == 0 ? 0 : waits.Count(w => w < waits.Min() + holdMs / 2);
        }

        private void MeasureConnections(TargetState state, MeasureRound round)
        {
            var message = RepeatingPattern.Create(null, _options.MessageSize).Bytes.Take(_options.MessageSize).ToArray();
            var outcome = WithSockets(sockets =>
            {
                using (var clock = new FigureClock(FigureBounds.For(MeasureFigure.Connections, _options), sockets))
                    return ConnectionRateProbe.Run(state.EndPoint, _options.ConnectionCount, message, _options.Timeout, sockets, state.Errors, clock);
            });
            if (outcome.Completed > 0 && outcome.ElapsedMs > 0)
            {
                round.ConnectionsPerSec = outcome.Completed / (outcome.ElapsedMs / 1000);
                round.ConnectionMs = outcome.ElapsedMs / outcome.Completed;
            }
        }

        private void MeasureCapacity(TargetState state, MeasureRound round, int capacity)
        {
            var before = KernelCounters.Read();
            var outcome = WithSockets(sockets =>
            {
                using (var clock = new FigureClock(FigureBounds.For(MeasureFigure.Capacity, _options), sockets))
                    return CapacityProbe.Run(state.EndPoint, capacity, _options.MessageSize, _options.CapacityWait, sockets, state.Errors, () => _cancelled, clock);
            });
            round.CapacityKernel = KernelCounters.Delta(before, KernelCounters.Read());
            round.CapacityConnectTimesMs = outcome.ConnectTimesMs;
            round.CapacityConnected = outcome.Connected;
            round.CapacityEchoed = outcome.Echoed;
            round.CapacityLastEchoMs = outcome.EchoTimesMs.Length > 0 ? outcome.EchoTimesMs[outcome.EchoTimesMs.Length - 1] : (double?)null;
            round.CapacityEchoTimesMs = outcome.EchoTimesMs;
        }

        /// <summary>How many connections the capacity probe may open: as asked, or fewer when the descriptor limit is lower (said in Setup).</summary>
        private int CapacityAllowed()
        {
            int asked = _options.CapacityConnections;
            var (soft, _, note) = DescriptorLimit.Get(raise: true);
            if (note != null)
                Setup.Notes.Add(note);
            if (soft == null)
                return asked;
            Setup.DescriptorLimit = soft;
            long free = soft.Value - (DescriptorLimit.OpenNow() ?? 0) - DescriptorReserve - (long)_options.IdleConnections * Setup.Targets.Length;
            if (free >= asked)
                return asked;
            int allowed = (int)Math.Max(1, free);
            Setup.Notes.Add(string.Format(CultureInfo.InvariantCulture,
                "Capacity: {0} connections asked, {1} opened: the open-file limit is {2} (hard limit reached) and {3} descriptors stay free for the rest of the process.",
                asked, allowed, soft, DescriptorReserve));
            Setup.CapacityLimited = true;
            return allowed;
        }

        private EchoClientOptions ClientOptions(TargetState state, EchoTestMode mode) => new EchoClientOptions
        {
            Port = state.Target.Port,
            Mode = mode,
            Size = _options.MessageSize,
            Timeout = _options.Timeout,
        };

        private EchoRoundTripResult RunClient(EchoClientOptions options, string host)
        {
            var client = new EchoClient(options);
            lock (_gate)
            {
                if (_cancelled)
                {
                    client.Dispose();
                    throw new OperationCanceledException();
                }
                _client = client;
            }
            try
            {
                return client.Run(host).First();
            }
            finally
            {
                lock (_gate)
                    _client = null;
                client.Dispose();
            }
        }

        private T WithSockets<T>(Func<ProbeSockets, T> probe)
        {
            var sockets = new ProbeSockets();
            lock (_gate)
            {
                if (_cancelled)
                    throw new OperationCanceledException();
                _sockets = sockets;
            }
            try
            {
                var outcome = probe(sockets);
                if (_cancelled)
                    throw new OperationCanceledException();
                return outcome;
            }
            catch (Exception) when (_cancelled)
            {
                throw new OperationCanceledException();
            }
            finally
            {
                lock (_gate)
                    _sockets = null;
                sockets.Dispose();
            }
        }

        /// <summary>One target's figures while the rounds run.</summary>
        private sealed class TargetState
        {
            internal TargetState(MeasureTarget target)
            {
                Target = target;
            }

            internal MeasureTarget Target { get; }
            internal ServerSide Side { get; } = new ServerSide();
            internal string Address { get; set; }
            internal IPEndPoint EndPoint { get; set; }
            internal ErrorTally Errors { get; } = new ErrorTally();
            internal List<string> Notes { get; } = new List<string>();
            internal List<MeasureRound> Rounds { get; } = new List<MeasureRound>();
            internal List<double> RttSamplesMs { get; } = new List<double>();

            internal EchoServerMeasurement ToMeasurement(MeasureOptions o, MeasureFigure[] figures, int capacity)
            {
                var m = new EchoServerMeasurement
                {
                    Timestamp = DateTime.Now,
                    Name = Target.Name,
                    Target = Target.Endpoint,
                    Address = Address ?? string.Empty,
                    Port = Target.Port,
                    Rounds = Rounds.Count,
                    Figures = string.Join(", ", figures),
                    MessageSize = o.MessageSize,
                    RoundTrips = o.RoundTripCount,
                    SlotClients = o.SlotClients,
                    SlotHoldMs = o.SlotHold.TotalMilliseconds,
                    CapacityRequested = capacity,
                    CapacityWaitMs = o.CapacityWait.TotalMilliseconds,
                    PerRound = Rounds.ToArray(),
                    Errors = Errors.ToArray(),
                    ErrorCount = Errors.Total,
                    Notes = Notes.ToArray(),
                };
                m.RttMinMs = Min(Rounds.Select(r => r.RttMinMs));
                m.RttP50Ms = Median(Rounds.Select(r => r.RttP50Ms));
                m.RttP90Ms = Median(Rounds.Select(r => r.RttP90Ms));
                m.RttP99Ms = Median(Rounds.Select(r => r.RttP99Ms));
                m.RttP999Ms = Median(Rounds.Select(r => r.RttP999Ms));
                m.RttMaxMs = Max(Rounds.Select(r => r.RttMaxMs));
                m.StreamMiBps = Median(Rounds.Select(r => r.StreamMiBps));
                m.ConnectionsPerSec = Median(Rounds.Select(r => r.ConnectionsPerSec));
                m.ConnectionMs = Median(Rounds.Select(r => r.ConnectionMs));
                m.Slots = Median(Rounds.Select(r => (double?)r.Slots));
                var waits = Rounds.Where(r => r.SlotWaitsMs != null).ToArray();
                if (waits.Length > 0)
                    m.SlotWaitsMs = Enumerable.Range(0, o.SlotClients)
                        .Select(k => Median(waits.Select(r => k < r.SlotWaitsMs.Length ? r.SlotWaitsMs[k] : null))).ToArray();
                m.CapacityConnected = Median(Rounds.Select(r => (double?)r.CapacityConnected));
                m.CapacityEchoed = Median(Rounds.Select(r => (double?)r.CapacityEchoed));
                m.CapacityLastEchoMs = Median(Rounds.Select(r => r.CapacityLastEchoMs));
                m.CapacityKernel = KernelCounterDelta.Sum(Rounds.Select(r => r.CapacityKernel));
                m.CapacityConnectP50Ms = Median(Rounds.Select(r => r.CapacityConnectP50Ms));
                m.CapacityConnectMaxMs = Max(Rounds.Select(r => r.CapacityConnectMaxMs));
                m.Load = LoadMedians(Rounds, o.LoadClients);
                m.LoadDurationMs = o.LoadDuration.TotalMilliseconds;
                var samples = RttSamplesMs.ToArray();
                Array.Sort(samples);
                m.RttSamplesMs = samples;
                return m;
            }
        }

        /// <summary>The median of the values present; for an even count, the mean of the two middle ones. Null when none.</summary>
        internal static double? Median(IEnumerable<double?> values)
        {
            var present = values.Where(v => v != null && !double.IsNaN(v.Value)).Select(v => v.Value).OrderBy(v => v).ToArray();
            if (present.Length == 0)
                return null;
            int middle = present.Length / 2;
            return present.Length % 2 == 1 ? present[middle] : (present[middle - 1] + present[middle]) / 2;
        }

        private static double? Min(IEnumerable<double?> values) => values.Where(v => v != null).Select(v => v.Value).DefaultIfEmpty(double.NaN).Min() is double d && !double.IsNaN(d) ? d : (double?)null;

        private static double? Max(IEnumerable<double?> values) => values.Where(v => v != null).Select(v => v.Value).DefaultIfEmpty(double.NaN).Max() is double d && !double.IsNaN(d) ? d : (double?)null;
    }
}
