using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using EchoPS.Client;

namespace EchoPS.Measure
{
    /// <summary>
    /// The load figure, one step: C clients at once, each sending a message, waiting for its whole echo (verified
    /// byte for byte), and sending the next, for a fixed time. Driven by the runtime's asynchronous sockets (epoll on
    /// Linux, a few pool threads), so 1,000 clients do not cost 1,000 threads. Every client first connects (within the
    /// timeout); the timed part then starts for all at once, and at its end every socket is closed, so a blocking
    /// server that serves one client ends the step on time with the others counted as starved.
    /// </summary>
    internal static class LoadProbe
    {
        private sealed class ClientState
        {
            internal Socket Socket;
            internal bool Connected;
            internal double ConnectMs;
            internal int RoundTrips;
            internal readonly List<long> Ticks = new List<long>();
            internal string Failure;
        }

        internal static LoadStep Run(IPEndPoint endPoint, int clients, int size, TimeSpan duration, TimeSpan connectWait,
            ProbeSockets sockets, ErrorTally errors, Func<bool> cancelled)
        {
            var pattern = RepeatingPattern.Create(null, size);
            var states = new ClientState[clients];
            var process = Process.GetCurrentProcess();
            int threadsBefore = ThreadCount(process);
            int peakThreads = threadsBefore;

            // Connect every client at once, within the connect wait.
            long connectStart = Stopwatch.GetTimestamp();
            var connects = new Task[clients];
            for (int i = 0; i < clients; i++)
            {
                if (cancelled())
                    throw new OperationCanceledException();
                states[i] = new ClientState();
                connects[i] = ConnectAsync(endPoint, sockets, states[i], connectStart);
            }
            WaitUntil(Task.WhenAll(connects), connectWait, cancelled, process, ref peakThreads);
            for (int i = 0; i < clients; i++)
                if (!states[i].Connected && states[i].Socket != null)
                    sockets.Close(states[i].Socket); // not connected within the wait: left out of the timed part
            Quietly(Task.WhenAll(connects));

            // The timed part: every connected client loops until the deadline.
            var go = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
            var loops = states.Select((s, i) => s.Connected ? LoopAsync(s, i, pattern, size, go.Task) : Task.CompletedTask).ToArray();
            var cpuBefore = process.TotalProcessorTime;
            long start = Stopwatch.GetTimestamp();
            long deadline = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
            go.SetResult(deadline);
            WaitUntil(Task.WhenAll(loops), duration, cancelled, process, ref peakThreads);
            long end = Stopwatch.GetTimestamp();
            process.Refresh();
            var cpu = process.TotalProcessorTime - cpuBefore;
            sockets.Dispose(); // ends every loop still waiting for an echo
            Quietly(Task.WhenAll(loops));
            if (cancelled())
                throw new OperationCanceledException();
            return Summarize(endPoint, clients, size, states, LatencyStats.ToMs(Math.Min(end, deadline) - start), cpu, threadsBefore, peakThreads, errors);
        }

        private static LoadStep Summarize(IPEndPoint endPoint, int clients, int size, ClientState[] states, double elapsedMs,
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
                errors.Add(MeasureFigure.Load, group.Key, $"{group.Count()} of {clients} load clients to {endPoint} ended {group.Key}.", group.Count());
            return step;
        }

        private static double? Percentile(double[] sorted, double q)
        {
            if (sorted.Length == 0)
                return null;
            int rank = (int)Math.Ceiling(q * sorted.Length);
            return sorted[Math.Min(sorted.Length, Math.Max(rank, 1)) - 1];
        }

        private static async Task ConnectAsync(IPEndPoint endPoint, ProbeSockets sockets, ClientState state, long start)
        {
            try
            {
                state.Socket = sockets.Open(endPoint.AddressFamily);
                await state.Socket.ConnectAsync(endPoint).ConfigureAwait(false);
                state.ConnectMs = LatencyStats.ToMs(Stopwatch.GetTimestamp() - start);
                state.Connected = true;
            }
            catch (Exception ex) when (ex is SocketException || ex is ObjectDisposedException || ex is OperationCanceledException)
            {
                // Closed at the connect wait: not connected, which the step counts. Refused or reset is an error.
                if (ex is SocketException s && s.SocketErrorCode != SocketError.OperationAborted)
                    state.Failure = ProbeSockets.StatusOf(ex);
            }
        }

        private static async Task LoopAsync(ClientState state, int client, RepeatingPattern pattern, int size, Task<long> go)
        {
            long deadline = await go.ConfigureAwait(false);
            var socket = state.Socket;
            var readBack = new byte[size];
            long message = 0;
            try
            {
                while (true)
                {
                    // Each client sends its own slice of the pattern, a different one every message, so an echo of
                    // another client's or of an earlier message cannot pass.
                    int offset = pattern.OffsetAt(((long)client * 7919 + message++) * size);
                    long t0 = Stopwatch.GetTimestamp();
                    if (t0 >= deadline)
                        return;
                    if (await ProbeSockets.EchoAsync(socket, pattern.Bytes, offset, size, readBack).ConfigureAwait(false) < size)
                    {
                        state.Failure = nameof(EchoRoundTripStatus.ClosedEarly);
                        return;
                    }
                    long t1 = Stopwatch.GetTimestamp();
                    if (!ProbeSockets.SameBytes(pattern.Bytes, offset, readBack, size))
                    {
                        state.Failure = nameof(EchoRoundTripStatus.Mismatch);
                        return;
                    }
                    if (t1 > deadline)
                        return; // an echo after the deadline is not counted
                    state.Ticks.Add(t1 - t0);
                    state.RoundTrips++;
                }
            }
            catch (Exception ex) when (ex is ObjectDisposedException || (ex is SocketException s && s.SocketErrorCode == SocketError.OperationAborted))
            {
                // closed at the deadline while waiting for an echo
            }
            catch (SocketException ex)
            {
                if (Stopwatch.GetTimestamp() < deadline)
                    state.Failure = ProbeSockets.StatusOf(ex);
            }
        }

        /// <summary>Waits for the task at most the time given, a tenth of a second at a time (a cancel is seen within that), watching the thread count.</summary>
        private static void WaitUntil(Task task, TimeSpan time, Func<bool> cancelled, Process process, ref int peakThreads)
        {
            long deadline = Stopwatch.GetTimestamp() + (long)(time.TotalSeconds * Stopwatch.Frequency);
            while (!cancelled())
            {
                double leftMs = LatencyStats.ToMs(deadline - Stopwatch.GetTimestamp());
                bool done = leftMs <= 0 || task.Wait(TimeSpan.FromMilliseconds(Math.Min(100, Math.Max(0, leftMs))));
                peakThreads = Math.Max(peakThreads, ThreadCount(process));
                if (done)
                    return;
            }
        }

        /// <summary>Waits at most 5 s for tasks whose sockets are closed; their outcome is already recorded.</summary>
        private static void Quietly(Task task) => task.ContinueWith(_ => { }, TaskScheduler.Default).Wait(TimeSpan.FromSeconds(5));

        private static int ThreadCount(Process process)
        {
            process.Refresh();
            return process.Threads.Count;
        }
    }
}
