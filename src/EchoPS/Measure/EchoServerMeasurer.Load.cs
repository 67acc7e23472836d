using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace EchoPS.Measure
{
    /// <summary>The load figure, the idle connections held during the figures, and the kernel's counters around them.</summary>
    public sealed partial class EchoServerMeasurer
    {
        private readonly Dictionary<TargetState, IdleConnections> _idle = new Dictionary<TargetState, IdleConnections>();

        /// <summary>Opens -IdleConnections connections to every reachable target, before the first round.</summary>
        private void OpenIdle(IEnumerable<TargetState> states)
        {
            if (_options.IdleConnections <= 0)
                return;
            foreach (var state in states.Where(s => s.EndPoint != null))
            {
                var idle = IdleConnections.Open(state.EndPoint, _options.IdleConnections, _options.MessageSize, _options.CapacityWait, () => _cancelled);
                lock (_gate)
                {
                    if (_cancelled)
                    {
                        idle.Dispose();
                        throw new OperationCanceledException();
                    }
                    _idle[state] = idle;
                }
            }
        }

        /// <summary>Closes every idle connection (the end of a run, a cancel, or Dispose).</summary>
        private void CloseIdle()
        {
            lock (_gate)
            {
                foreach (var idle in _idle.Values)
                    idle.Dispose();
                _idle.Clear();
            }
        }

        /// <summary>Reads what the idle connections held into the results, then closes them.</summary>
        private void CloseIdle(IReadOnlyList<TargetState> states, EchoServerMeasurement[] results)
        {
            for (int i = 0; i < states.Count; i++)
            {
                IdleConnections idle;
                lock (_gate)
                    if (!_idle.TryGetValue(states[i], out idle))
                        continue;
                results[i].IdleAsked = idle.Asked;
                results[i].IdleHeld = idle.Held;
                results[i].IdleOpenAtEnd = idle.StillOpen();
                if (idle.Held < idle.Asked)
                    results[i].Notes = results[i].Notes.Concat(new[] { string.Format(CultureInfo.InvariantCulture,
                        "Idle connections: {0} of {1} held (connected and echoed within {2:0.###} s); the figures ran beside those.", idle.Held, idle.Asked, _options.CapacityWait.TotalSeconds) }).ToArray();
            }
            CloseIdle();
        }

        private void MeasureLoad(TargetState state, MeasureRound round)
        {
            var steps = new List<LoadStep>();
            foreach (int clients in _options.LoadClients)
            {
                var before = KernelCounters.Read();
                var step = WithSockets(sockets => LoadProbe.Run(state.EndPoint, clients, _options.MessageSize, _options.LoadDuration, LoadConnectWait(_options), sockets, state.Errors, () => _cancelled));
                step.Kernel = KernelCounters.Delta(before, KernelCounters.Read());
                steps.Add(step);
            }
            round.Load = steps.ToArray();
            state.Side.LastOperations = steps.Sum(s => s.RoundTrips); // the server's cost is per round trip of every step
        }

        /// <summary>
        /// How long a load step waits for its clients to connect: -LoadSec plus 1.5 s (a SYN the full listen queue
        /// dropped is sent again after 1 s; the next retry, at 3 s, is not waited for), at most the timeout. A blocking
        /// server's queue fills at its backlog, so at 1,000 clients the step used to wait the whole timeout.
        /// </summary>
        internal static TimeSpan LoadConnectWait(MeasureOptions o)
        {
            var wait = o.LoadDuration + TimeSpan.FromSeconds(1.5);
            return wait < o.Timeout ? wait : o.Timeout;
        }

        /// <summary>Each load step's medians over the rounds, with round trips/s and p99 spread min-max.</summary>
        internal static LoadStep[] LoadMedians(IReadOnlyList<MeasureRound> rounds, int[] clientSteps)
        {
            var withLoad = rounds.Where(r => r.Load != null).ToArray();
            if (withLoad.Length == 0)
                return null;
            return clientSteps.Select(clients =>
            {
                var each = withLoad.Select(r => r.Load.FirstOrDefault(s => s.Clients == clients)).Where(s => s != null).ToArray();
                double med(Func<LoadStep, double> f) => Median(each.Select(s => (double?)f(s))) ?? 0;
                double? medN(Func<LoadStep, double?> f) => Median(each.Select(f));
                return new LoadStep
                {
                    Clients = clients,
                    Connected = med(s => s.Connected),
                    Starved = med(s => s.Starved),
                    RoundTrips = med(s => s.RoundTrips),
                    DurationMs = med(s => s.DurationMs),
                    RoundTripsPerSec = med(s => s.RoundTripsPerSec),
                    MiBps = med(s => s.MiBps),
                    P50Ms = medN(s => s.P50Ms),
                    P99Ms = medN(s => s.P99Ms),
                    P999Ms = medN(s => s.P999Ms),
                    MaxMs = each.Select(s => s.MaxMs).Max(),
                    MinPerClient = med(s => s.MinPerClient),
                    MaxPerClient = med(s => s.MaxPerClient),
                    MeasurerCpuUsPerRoundTrip = medN(s => s.MeasurerCpuUsPerRoundTrip),
                    MeasurerLoop = string.Join(", ", each.Select(s => s.MeasurerLoop).Where(l => l != null).Distinct()),
                    MeasurerThreads = each.Length == 0 ? 0 : each.Max(s => s.MeasurerThreads),
                    MeasurerThreadsBefore = each.Length == 0 ? 0 : each.Min(s => s.MeasurerThreadsBefore),
                    ConnectP50Ms = medN(s => s.ConnectP50Ms),
                    ConnectP99Ms = medN(s => s.ConnectP99Ms),
                    ConnectMaxMs = each.Select(s => s.ConnectMaxMs).Max(),
                    RoundTripsPerSecMin = each.Length == 0 ? (double?)null : each.Min(s => s.RoundTripsPerSec),
                    RoundTripsPerSecMax = each.Length == 0 ? (double?)null : each.Max(s => s.RoundTripsPerSec),
                    P99MsMin = each.Select(s => s.P99Ms).Min(),
                    P99MsMax = each.Select(s => s.P99Ms).Max(),
                    Kernel = KernelCounterDelta.Sum(each.Select(s => s.Kernel)),
                };
            }).ToArray();
        }

    }
}
