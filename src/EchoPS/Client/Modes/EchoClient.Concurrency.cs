using System;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using EchoPS.Net;

namespace EchoPS.Client
{
    public sealed partial class EchoClient
    {
        /// <summary>
        /// Starts every client at the same moment; each connects, sends one message, waits for its echo, holds its
        /// connection, then closes. Against a server that serves one client at a time, client k waits for the
        /// k-1 before it: the queue becomes visible as a staircase of waits. Clients are numbered in the order they
        /// were served (the moment their first echoed byte arrived), not the order their threads started, so
        /// "client k" is the k-th served; clients that got no echo come last.
        /// </summary>
        private void MeasureConcurrency(IPAddress[] addresses, EchoRoundTripResult result)
        {
            int clients = _options.Concurrency;
            var pattern = RepeatingPattern.Create(_options.Payload, _options.MessageSize);
            var waits = new EchoClientWait[clients];
            var tallies = new Tally[clients];
            var threads = new Thread[clients];
            // When each client's first echoed byte arrived (Stopwatch ticks; 0 = never): the order of service.
            var servedAt = new long[clients];
            using (var go = new ManualResetEvent(false))
            {
                for (int i = 0; i < clients; i++)
                {
                    var wait = waits[i] = new EchoClientWait { Client = i + 1 };
                    var tally = tallies[i] = new Tally();
                    int index = i;
                    threads[i] = new Thread(() => RunClient(wait, tally, addresses, pattern, go, servedAt, index)) { IsBackground = true, Name = $"EchoPS client {i + 1}" };
                    threads[i].Start();
                }
                go.Set();
                // No join bound needed: every step of a client is bounded (connect timer, socket timeouts, hold).
                foreach (var thread in threads)
                    thread.Join();
            }
            ThrowIfCancelled();

            foreach (var tally in tallies)
                tally.AddTo(result);
            // Numbered and listed in the order of service: against a one-at-a-time server client k waits about k-1
            // hold times, a staircase. Clients with no echo keep their start order, after the served ones.
            result.Clients = Enumerable.Range(0, clients)
                .OrderBy(i => servedAt[i] == 0 ? long.MaxValue : servedAt[i]).ThenBy(i => i)
                .Select(i => waits[i]).ToArray();
            for (int k = 0; k < result.Clients.Length; k++)
                result.Clients[k].Client = k + 1;
            result.RoundTrips = waits.Count(w => w.Status == EchoRoundTripStatus.Success);
            result.Address = waits.Select(w => w.Address).FirstOrDefault(a => a != null) ?? addresses[0].ToString();
            result.Message = SummariseWaits(result.Clients);
            ThrowIfDeadline("");
            var failed = waits.Where(w => w.Status != EchoRoundTripStatus.Success).ToArray();
            if (failed.Length > 0)
            {
                string others = failed.Length > 1 ? $" ({failed.Length} of {clients} clients failed.)" : "";
                throw new EchoFailure(failed[0].Status, $"Client {failed[0].Client}: {failed[0].Message}{others} {result.Message}");
            }
            result.Status = EchoRoundTripStatus.Success;
        }

        /// <summary>"3 clients, waits 0.8 to 1001.6 ms, median 501.1 ms.": one line, however many clients.</summary>
        private static string SummariseWaits(EchoClientWait[] clients)
        {
            var waits = clients.Where(w => w.WaitMs != null).Select(w => w.WaitMs.Value).OrderBy(w => w).ToArray();
            string who = clients.Length == 1 ? "1 client" : $"{clients.Length} clients";
            if (waits.Length == 0)
                return $"{who}, no echo.";
            string Ms(double ms) => ms.ToString("0.0", CultureInfo.InvariantCulture);
            if (waits.Length == 1)
                return $"{who}, wait {Ms(waits[0])} ms.";
            string answered = waits.Length < clients.Length ? $" ({waits.Length} answered)" : "";
            return $"{who}, waits {Ms(waits[0])} to {Ms(waits[waits.Length - 1])} ms, median {Ms(waits[(waits.Length - 1) / 2])} ms{answered}.";
        }

        /// <summary>Room for a client to wait behind every other client's hold, on top of the normal timeout.</summary>
        private TimeSpan QueuedWaitAllowance() => TimeSpan.FromTicks(_options.Hold.Ticks * _options.Concurrency);

        /// <summary>
        /// One client: connects, exchanges its message through the same guarded exchange as round-trip mode (so a
        /// message of any size cannot deadlock), holds, then sends its FIN and expects exactly its bytes back.
        /// </summary>
        private void RunClient(EchoClientWait wait, Tally tally, IPAddress[] addresses, RepeatingPattern pattern, WaitHandle go,
            long[] servedAt, int index)
        {
            // Runs on its own thread: everything is caught, since an escaping exception would end the host process.
            Socket socket = null;
            int size = _options.MessageSize;
            long start = 0, firstByteAt = 0;
            try
            {
                var readBack = new byte[size];
                go.WaitOne();
                start = Stopwatch.GetTimestamp();
                var connection = ConnectAny(addresses, null);
                socket = connection.Socket;
                wait.ConnectMs = connection.ConnectMs;
                wait.LocalEndPoint = connection.LocalEndPoint;
                wait.Address = connection.Address.ToString();
                socket.ReceiveTimeout = socket.SendTimeout = SocketTimeouts.Milliseconds(_options.Timeout + QueuedWaitAllowance());

                // Pseudo-random messages differ per client, so one client's echo cannot pass for another's; a payload is sent as given.
                int offset = _options.Payload != null ? 0 : pattern.OffsetAt((wait.Client - 1L) * size);
                Exchange(socket, pattern, offset, size, readBack, false, tally, 0, true, ref firstByteAt);
                Pause(_options.Hold);
                FinishStream(socket, readBack, tally, false);
                wait.Status = EchoRoundTripStatus.Success;
            }
            catch (EchoFailure failure)
            {
                wait.Status = failure.Status;
                wait.Message = failure.Message;
            }
            catch (Exception ex) when (ex is SocketException || ex is ObjectDisposedException)
            {
                var failure = IoFailure(ex, 0, size, "its message");
                wait.Status = (failure as EchoFailure)?.Status ?? EchoRoundTripStatus.Failed;
                wait.Message = failure.Message;
            }
            catch (Exception ex)
            {
                wait.Status = EchoRoundTripStatus.Failed;
                wait.Message = ex.Message;
            }
            finally
            {
                if (firstByteAt != 0)
                {
                    wait.WaitMs = LatencyStats.ToMs(firstByteAt - start);
                    servedAt[index] = firstByteAt;
                }
                Close(socket);
            }
        }
    }
}
