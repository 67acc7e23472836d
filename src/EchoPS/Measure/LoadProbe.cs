using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using EchoPS.Client;

namespace EchoPS.Measure
{
    /// <summary>
    /// The load figure, one step: C clients at once, each sending a message, waiting for its whole echo (verified
    /// byte for byte), and sending the next, for a fixed time. Driven by one thread's epoll loop on Linux
    /// (<see cref="EpollLoadLoop"/>) and by the runtime's asynchronous sockets elsewhere (<see cref="AsyncLoadLoop"/>),
    /// so 1,000 clients do not cost 1,000 threads. Every client first connects (within the
    /// timeout); the timed part then starts for all at once, and at its end every socket is closed, so a blocking
    /// server that serves one client ends the step on time with the others counted as starved.
    /// </summary>
    internal static class LoadProbe
    {
        /// <summary>Runs one step; <paramref name="loopToUse"/> (tests) picks the loop, else <see cref="LoadLoops.Choose"/> does.</summary>
        internal static LoadStep Run(IPEndPoint endPoint, int clients, int size, TimeSpan duration, TimeSpan connectWait,
            ProbeSockets sockets, ErrorTally errors, Func<bool> cancelled, Func<ILoadLoop> loopToUse = null)
        {
            var pattern = RepeatingPattern.Create(null, size);
            var states = new LoadClient[clients];
            for (int i = 0; i < clients; i++)
                states[i] = new LoadClient(i);
            var threads = new ThreadWatch();
            LoadTiming timing;
            string loopName;
            using (var loop = (loopToUse ?? LoadLoops.Choose)())
            {
                loopName = loop.Name;
                timing = loop.Drive(endPoint, states, pattern, size, duration, connectWait, sockets, cancelled, threads);
            }
            if (cancelled())
                throw new OperationCanceledException();
            var step = Summarize(endPoint, clients, size, states, timing.ElapsedMs, timing.Cpu, threads.Before, threads.Peak, errors);
            step.MeasurerLoop = loopName;
            return step;
        }

        private static LoadStep Summarize(IPEndPoint endPoint, int clients, int size, LoadClient[] states, double elapsedMs,
            TimeSpan cpu, int threadsBefore, int peakThreads, ErrorTally errors)
        {
            var connected = states.Where(s => s.Connected).ToArray();
            var ticks = connected.SelectMany(s => s.Ticks).ToArray();
            Array.Sort(ticks);
            var connectTimes = connected.Select(s => s.ConnectMs).OrderBy(t => t).ToArray();
            long roundTrips = ticks.Length;
            double seconds = Math.Max(elapsedMs, 1e-3) / 1000;
            var step = new LoadStep
            {
                Clients = clients,
                Connected = connected.Length,
                Starved = connected.Count(s => s.RoundTrips == 0),
                RoundTrips = roundTrips,
                DurationMs = elapsedMs,
                RoundTripsPerSec = roundTrips / seconds,
                MiBps = roundTrips * (double)size / (1024 * 1024) / seconds,
                MinPerClient = connected.Length == 0 ? 0 : connected.Min(s => s.RoundTrips),
                MaxPerClient = connected.Length == 0 ? 0 : connected.Max(s => s.RoundTrips),
                MeasurerCpuUsPerRoundTrip = roundTrips > 0 ? cpu.TotalMilliseconds * 1000 / roundTrips : (double?)null,
                MeasurerThreads = peakThreads,
                MeasurerThreadsBefore = threadsBefore,
                ConnectP50Ms = Percentile(connectTimes, 0.5),
                ConnectP99Ms = Percentile(connectTimes, 0.99),
                ConnectMaxMs = connectTimes.Length > 0 ? connectTimes[connectTimes.Length - 1] : (double?)null,
            };
            if (ticks.Length > 0)
            {
                step.P50Ms = LatencyStats.ToMs(LatencyStats.Percentile(ticks, 0.5));
                step.P99Ms = LatencyStats.ToMs(LatencyStats.Percentile(ticks, 0.99));
                step.P999Ms = LatencyStats.ToMs(LatencyStats.Percentile(ticks, 0.999));
                step.MaxMs = LatencyStats.ToMs(ticks[ticks.Length - 1]);
            }
            // Not connected within the wait, and connected but never echoed, are what this figure measures (Connected,
            // Starved), not errors; refused, reset, closed early and mismatched are.
            foreach (var group in states.Where(s => s.Failure != null).GroupBy(s => s.Failure))
                errors.Add(MeasureFigure.Load, group.Key, $"{group.Count()} of {clients} load clients to {endPoint} ended {group.Key}.{MismatchPlace(group.First())}", group.Count());
            return step;
        }

        /// <summary>Where the first client of a mismatch group saw it: " The first: client 3, message 12, byte 5."</summary>
        internal static string MismatchPlace(LoadClient c) => c.MismatchByte < 0 ? "" : string.Format(CultureInfo.InvariantCulture,
            " The first: client {0}, message {1} (0 = the first), byte {2} of the echo differed.", c.Index, c.MismatchMessage, c.MismatchByte);

        private static double? Percentile(double[] sorted, double q)
        {
            if (sorted.Length == 0)
                return null;
            int rank = (int)Math.Ceiling(q * sorted.Length);
            return sorted[Math.Min(sorted.Length, Math.Max(rank, 1)) - 1];
        }
    }
}
