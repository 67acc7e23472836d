using System;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;

namespace EchoPS.Client
{
    public sealed partial class EchoClient
    {
        /// <summary>
        /// Starts every client at the same moment; each connects, sends one message, waits for its echo, holds its
        /// connection, then closes. Against a server that serves one client at a time, client k waits for the
        /// k-1 before it: the queue becomes visible as a staircase of waits.
        /// </summary>
        private void MeasureConcurrency(IPAddress[] addresses, EchoRoundTripResult result)
        {
            int clients = _options.Concurrency;
            var pattern = RepeatingPattern.Create(_options.Payload, _options.MessageSize);
            var waits = new EchoClientWait[clients];
            var tallies = new Tally[clients];
            var threads = new Thread[clients];
            using (var go = new ManualResetEvent(false))
            {
                for (int i = 0; i < clients; i++)
                {
                    var wait = waits[i] = new EchoClientWait { Client = i + 1 };
                    var tally = tallies[i] = new Tally();
                    threads[i] = new Thread(() => RunClient(wait, tally, addresses, pattern, go)) { IsBackground = true, Name = $"EchoPS client {i + 1}" };
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
            // Served order reads best: against a one-at-a-time server the waits form a staircase of hold times.
            result.Clients = waits.OrderBy(w => w.WaitMs ?? double.MaxValue).ToArray();
            result.RoundTrips = waits.Count(w => w.Status == EchoRoundTripStatus.Success);
            result.Address = waits.Select(w => w.Address).FirstOrDefault(a => a != null) ?? addresses[0].ToString();
            result.Message = $"{clients} clients, waits "
                + string.Join(", ", result.Clients.Select(w => w.WaitMs?.ToString("0.0", CultureInfo.InvariantCulture) ?? "-")) + " ms.";
            var failed = waits.FirstOrDefault(w => w.Status != EchoRoundTripStatus.Success);
            if (failed != null)
                throw new EchoFailure(failed.Status, $"Client {failed.Client}: {failed.Message} {result.Message}");
            result.Status = EchoRoundTripStatus.Success;
        }

        /// <summary>Room for a client to wait behind every other client's hold, on top of the normal timeout.</summary>
        private TimeSpan QueuedWaitAllowance() => TimeSpan.FromTicks(_options.Hold.Ticks * _options.Concurrency);

        private void RunClient(EchoClientWait wait, Tally tally, IPAddress[] addresses, RepeatingPattern pattern, WaitHandle go)
        {
            // Runs on its own thread: everything is caught, since an escaping exception would end the host process.
            Socket socket = null;
            int size = _options.MessageSize;
            var readBack = new byte[size];
            int received = 0;
            try
            {
                go.WaitOne();
                long start = Stopwatch.GetTimestamp();
                var connection = ConnectAny(addresses, null);
                socket = connection.Socket;
                wait.ConnectMs = connection.ConnectMs;
                wait.LocalEndPoint = connection.LocalEndPoint;
                wait.Address = connection.Address.ToString();
                socket.ReceiveTimeout = socket.SendTimeout = TimeoutMs(_options.Timeout + QueuedWaitAllowance());

                // Pseudo-random messages differ per client, so one client's echo cannot pass for another's; a payload is sent as given.
                int offset = _options.Payload != null ? 0 : pattern.OffsetAt((wait.Client - 1L) * _options.MessageSize);
                socket.Send(pattern.Bytes, offset, size, SocketFlags.None);
                while (received < size)
                {
                    int n = socket.Receive(readBack, received, size - received, SocketFlags.None);
                    if (n == 0)
                        break;
                    if (received == 0)
                        wait.WaitMs = LatencyStats.ToMs(Stopwatch.GetTimestamp() - start);
                    received += n;
                }
                tally.Add(size, pattern, offset, readBack, 0, received);
                if (received < size)
                    throw new EchoFailure(EchoRoundTripStatus.ClosedEarly, $"The server closed the connection after echoing {received} of {size} bytes.");
                if (tally.Mismatches > 0)
                    throw new EchoFailure(EchoRoundTripStatus.Mismatch, $"{tally.Mismatches} of {size} bytes came back different.");
                Pause(_options.Hold);
                wait.Status = EchoRoundTripStatus.Success;
            }
            catch (EchoFailure failure)
            {
                wait.Status = failure.Status;
                wait.Message = failure.Message;
            }
            catch (Exception ex) when (ex is SocketException || ex is ObjectDisposedException)
            {
                var failure = IoFailure(ex, received, size, "its message");
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
                Close(socket);
            }
        }
    }
}
