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
    /// The 10k-connections probe: opens N connections at once; each sends one message as soon as it is connected,
    /// reads its echo and keeps its connection. At the deadline T every socket is closed. Uses the runtime's
    /// asynchronous sockets (epoll on Linux), so the probe itself holds thousands of connections on two cores.
    /// After its echo each connection keeps reading until T: a byte more than was sent counts as a Mismatch, not as
    /// an echo, since the probe's close at T is where the stream ends.
    /// </summary>
    internal static class CapacityProbe
    {
        private const string NotAccepted = "NotAcceptedWithinT";
        private const string NotServed = "NoEchoWithinT";
        private const string ExtraBytes = nameof(EchoRoundTripStatus.Mismatch);

        internal sealed class Outcome
        {
            internal int Connected;
            internal int Echoed;
            internal double[] EchoTimesMs = new double[0];
            internal double[] ConnectTimesMs = new double[0];
        }

        internal static Outcome Run(IPEndPoint endPoint, int count, int size, TimeSpan wait, ProbeSockets sockets,
            ErrorTally errors, Func<bool> cancelled, FigureClock clock)
        {
            var pattern = RepeatingPattern.Create(null, size);
            var outcome = new Outcome();
            var echoTimes = new double[count];
            var connectTimes = new double[count];
            var statuses = new string[count];
            var tasks = new Task[count];
            // Settled: echoed (or failed) or ended; the probe stops waiting once every client has settled.
            var settled = new TaskCompletionSource<bool>[count];
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < count; i++)
            {
                if (cancelled())
                    throw new OperationCanceledException();
                int client = i;
                // Each client sends its own slice of the pattern, so one's echo cannot pass for another's.
                int offset = pattern.OffsetAt((long)client * size);
                settled[i] = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                tasks[i] = OneAsync(endPoint, sockets, pattern.Bytes, offset, size, start, outcome, echoTimes, connectTimes, statuses, client, settled[i]);
            }
            // Every client gets until the deadline; then closing the sockets ends whatever still waits.
            var all = Task.WhenAll(settled.Select(t => t.Task));
            var remaining = wait - TimeSpan.FromTicks((long)((Stopwatch.GetTimestamp() - start) * (TimeSpan.TicksPerSecond / (double)Stopwatch.Frequency)));
            if (remaining > TimeSpan.Zero)
                WaitUntil(all, remaining, cancelled);
            sockets.Dispose();
            Task.WhenAll(tasks).Wait(TimeSpan.FromSeconds(5)); // each task ends once its socket is closed
            if (cancelled())
                throw new OperationCanceledException();

            // Closing the sockets one by one frees a one-at-a-time server to serve a next one before its socket
            // is closed too: an echo after the deadline is not "within T".
            double deadlineMs = wait.TotalMilliseconds;
            for (int i = 0; i < count; i++)
                if (echoTimes[i] > deadlineMs)
                {
                    echoTimes[i] = 0;
                    statuses[i] = NotServed;
                }
            var times = echoTimes.Where(t => t > 0).ToArray();
            Array.Sort(times);
            outcome.EchoTimesMs = times;
            outcome.ConnectTimesMs = connectTimes.Where(t => t > 0).OrderBy(t => t).ToArray();
            outcome.Echoed = times.Length;
            // Not accepted, or accepted and not served, within T is what this probe measures (Connected, Echoed),
            // not an error: a blocking server answers one of N. Refused, reset, closed early and mismatched are errors.
            foreach (var group in statuses.Where(s => s != null && s != NotAccepted && s != NotServed).GroupBy(s => s))
                errors.Add(MeasureFigure.Capacity, group.Key, group.Key == ExtraBytes
                    ? $"{group.Count()} of {count} connections to {endPoint} got an echo that differs from the {size} bytes sent, or more bytes than were sent."
                    : $"{group.Count()} of {count} connections to {endPoint} ended {group.Key}.", group.Count());
            if (clock.Reached)
                errors.Add(MeasureFigure.Capacity, nameof(EchoRoundTripStatus.TimedOut), clock.Message(MeasureFigure.Capacity,
                    $"{outcome.Connected} of {count} connections opened, {outcome.Echoed} echoed"));
            return outcome;
        }

        /// <summary>Waits for the task, a tenth of a second at a time, so that a cancel is seen within that.</summary>
        private static void WaitUntil(Task task, TimeSpan time, Func<bool> cancelled)
        {
            var deadline = DateTime.UtcNow + time;
            while (!cancelled())
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || task.Wait(left < TimeSpan.FromMilliseconds(100) ? left : TimeSpan.FromMilliseconds(100)))
                    return;
            }
        }

        private static async Task OneAsync(IPEndPoint endPoint, ProbeSockets sockets, byte[] pattern, int offset, int size,
            long start, Outcome outcome, double[] echoTimes, double[] connectTimes, string[] statuses, int client, TaskCompletionSource<bool> settled)
        {
            bool connected = false, echoed = false;
            int received = 0;
            try
            {
                var socket = sockets.Open(endPoint.AddressFamily);
                await socket.ConnectAsync(endPoint).ConfigureAwait(false);
                connected = true;
                connectTimes[client] = Math.Max(LatencyStats.ToMs(Stopwatch.GetTimestamp() - start), 1e-6);
                Interlocked.Increment(ref outcome.Connected);
                var readBack = new byte[size];
                received = await ProbeSockets.EchoAsync(socket, pattern, offset, size, readBack).ConfigureAwait(false);
                long now = Stopwatch.GetTimestamp();
                if (received < size)
                    statuses[client] = nameof(EchoRoundTripStatus.ClosedEarly);
                else if (!ProbeSockets.SameBytes(pattern, offset, readBack, size))
                    statuses[client] = ExtraBytes;
                else
                {
                    echoTimes[client] = Math.Max(LatencyStats.ToMs(now - start), 1e-6);
                    echoed = true;
                    settled.TrySetResult(true);
                    // The connection stays open until the probe's deadline closes every socket; nothing more may come
                    // before then (the server closing its side is no error).
                    int more = await socket.ReceiveAsync(new ArraySegment<byte>(readBack, 0, 1), SocketFlags.None).ConfigureAwait(false);
                    if (more > 0)
                    {
                        echoTimes[client] = 0;
                        statuses[client] = ExtraBytes;
                    }
                }
            }
            catch (OperationCanceledException)
            {
                statuses[client] = NotAccepted; // the probe was closed before this socket opened
            }
            catch (Exception ex) when (echoed && (ex is SocketException || ex is ObjectDisposedException))
            {
                // Closed at T (or reset) after a whole, exact echo: counted as echoed.
            }
            catch (Exception ex) when (ex is SocketException || ex is ObjectDisposedException)
            {
                // A socket closed at the deadline: still connecting, or connected with no (full) echo yet.
                statuses[client] = ex is ObjectDisposedException || (ex is SocketException s && s.SocketErrorCode == SocketError.OperationAborted)
                    ? (connected ? NotServed : NotAccepted)
                    : ProbeSockets.StatusOf(ex);
            }
            catch (Exception ex)
            {
                statuses[client] = ex.GetType().Name;
            }
            finally
            {
                settled.TrySetResult(true);
            }
        }
    }
}
