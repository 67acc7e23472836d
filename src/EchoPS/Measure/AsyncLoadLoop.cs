using System;
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
    /// The load step's clients on the runtime's asynchronous sockets (a few pool threads and the runtime's event loop):
    /// the loop where epoll is not there. Each client connects, then sends, awaits its whole echo, verifies it, and
    /// sends the next; at the deadline every socket is closed, which ends the awaits still pending.
    /// </summary>
    internal sealed class AsyncLoadLoop : ILoadLoop
    {
        public string Name => "async";

        public void Dispose()
        {
        }

        public LoadTiming Drive(IPEndPoint endPoint, LoadClient[] clients, RepeatingPattern pattern, int size, TimeSpan duration,
            TimeSpan connectWait, ProbeSockets sockets, Func<bool> cancelled, ThreadWatch threads)
        {
            // Connect every client at once, within the connect wait.
            long connectStart = Stopwatch.GetTimestamp();
            var connects = new Task[clients.Length];
            for (int i = 0; i < clients.Length; i++)
            {
                if (cancelled())
                    throw new OperationCanceledException();
                connects[i] = ConnectAsync(endPoint, sockets, clients[i], connectStart);
            }
            WaitUntil(Task.WhenAll(connects), connectWait, cancelled, threads);
            foreach (var c in clients)
                if (!c.Connected && c.Socket != null)
                    sockets.Close(c.Socket); // not connected within the wait: left out of the timed part
            Quietly(Task.WhenAll(connects));

            // The timed part: every connected client loops until the deadline.
            var go = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
            var loops = clients.Select(c => c.Connected ? LoopAsync(c, pattern, size, go.Task) : Task.CompletedTask).ToArray();
            var cpuBefore = threads.Cpu();
            long start = Stopwatch.GetTimestamp();
            long deadline = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
            go.SetResult(deadline);
            WaitUntil(Task.WhenAll(loops), duration, cancelled, threads);
            long end = Stopwatch.GetTimestamp();
            var cpu = threads.Cpu() - cpuBefore;
            sockets.Dispose(); // ends every loop still waiting for an echo
            Quietly(Task.WhenAll(loops));
            return new LoadTiming(cpu, LatencyStats.ToMs(Math.Min(end, deadline) - start));
        }

        private static async Task ConnectAsync(IPEndPoint endPoint, ProbeSockets sockets, LoadClient state, long start)
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

        private static async Task LoopAsync(LoadClient state, RepeatingPattern pattern, int size, Task<long> go)
        {
            long deadline = await go.ConfigureAwait(false);
            var socket = state.Socket;
            var readBack = new byte[size];
            try
            {
                while (true)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    if (t0 >= deadline)
                        return;
                    state.Begin(pattern, size, t0);
                    if (await ProbeSockets.EchoAsync(socket, pattern.Bytes, state.Offset, size, readBack).ConfigureAwait(false) < size)
                    {
                        state.Fail(nameof(EchoRoundTripStatus.ClosedEarly));
                        return;
                    }
                    long t1 = Stopwatch.GetTimestamp();
                    state.OnSent(size);
                    if (!state.OnReceived(pattern.Bytes, readBack, size))
                        return;
                    if (!state.Complete(t1, deadline))
                        return; // an echo after the deadline is not counted
                }
            }
            catch (Exception ex) when (ex is ObjectDisposedException || (ex is SocketException s && s.SocketErrorCode == SocketError.OperationAborted))
            {
                // closed at the deadline while waiting for an echo
            }
            catch (SocketException ex)
            {
                if (Stopwatch.GetTimestamp() < deadline)
                    state.Fail(ProbeSockets.StatusOf(ex));
            }
        }

        /// <summary>Waits for the task at most the time given, a tenth of a second at a time (a cancel is seen within that), watching the thread count.</summary>
        private static void WaitUntil(Task task, TimeSpan time, Func<bool> cancelled, ThreadWatch threads)
        {
            long deadline = Stopwatch.GetTimestamp() + (long)(time.TotalSeconds * Stopwatch.Frequency);
            while (!cancelled())
            {
                double leftMs = LatencyStats.ToMs(deadline - Stopwatch.GetTimestamp());
                bool done = leftMs <= 0 || task.Wait(TimeSpan.FromMilliseconds(Math.Min(100, Math.Max(0, leftMs))));
                threads.Sample();
                if (done)
                    return;
            }
        }

        /// <summary>Waits at most 5 s for tasks whose sockets are closed; their outcome is already recorded.</summary>
        private static void Quietly(Task task) => task.ContinueWith(_ => { }, TaskScheduler.Default).Wait(TimeSpan.FromSeconds(5));
    }
}
