using System;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using EchoPS.Client;

namespace EchoPS.Measure
{
    /// <summary>
    /// Sequential connections: connect, one small echo (verified), close; as many as asked, one after the other.
    /// Gives up early on a broken server (a timeout, or ten failures), so a round never takes count x timeout, and
    /// stops at the figure's bound (<see cref="FigureClock"/>), so a server that answers slowly but in time cannot
    /// make it run for hours. Each connection checks exactly the bytes sent come back and no more: the client shuts
    /// down its sending side after the echo and the server must then end the stream with nothing further.
    /// </summary>
    internal static class ConnectionRateProbe
    {
        private const int MaxFailures = 10;

        internal sealed class Outcome
        {
            internal int Completed;
            internal double ElapsedMs;
        }

        internal static Outcome Run(IPEndPoint endPoint, int count, byte[] message, TimeSpan timeout, ProbeSockets sockets,
            ErrorTally errors, FigureClock clock)
        {
            var readBack = new byte[message.Length + 1];
            int timeoutMs = (int)Math.Max(1, Math.Min(int.MaxValue, timeout.TotalMilliseconds));
            var outcome = new Outcome();
            int failures = 0;
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < count; i++)
            {
                Socket socket = null;
                int received = 0, extra = 0;
                try
                {
                    socket = sockets.Open(endPoint.AddressFamily);
                    ProbeSockets.ConnectWithin(socket, endPoint, timeout);
                    socket.ReceiveTimeout = socket.SendTimeout = timeoutMs;
                    ProbeSockets.SendAll(socket, message, 0, message.Length);
                    received = ProbeSockets.ReceiveUpTo(socket, readBack, message.Length);
                    if (received == message.Length)
                        extra = ProbeSockets.ExtraBeforeEnd(socket, readBack, message.Length);
                }
                catch (Exception ex) when (clock.Reached && (ex is SocketException || ex is ObjectDisposedException || ex is OperationCanceledException))
                {
                    return Bounded(outcome, errors, clock, count, i);
                }
                catch (Exception ex) when (ex is SocketException || ex is ObjectDisposedException)
                {
                    if (socket != null)
                        sockets.Close(socket);
                    string status = ProbeSockets.StatusOf(ex);
                    errors.Add(MeasureFigure.Connections, status, received == message.Length
                        ? $"Connection {i + 1} to {endPoint}: {status} after the whole echo, waiting for the end of stream after the client's shutdown."
                        : $"Connection {i + 1} to {endPoint}: {status} after {received} of {message.Length} bytes back.");
                    if (++failures >= MaxFailures || status == nameof(EchoRoundTripStatus.TimedOut))
                        return GiveUp(outcome, errors, endPoint, count - i - 1);
                    continue;
                }
                sockets.Close(socket);
                if (clock.Reached)
                    return Bounded(outcome, errors, clock, count, i);
                if (received < message.Length)
                    errors.Add(MeasureFigure.Connections, nameof(EchoRoundTripStatus.ClosedEarly),
                        $"Connection {i + 1} to {endPoint}: the server closed after echoing {received} of {message.Length} bytes.");
                else if (!ProbeSockets.SameBytes(message, 0, readBack, received))
                    errors.Add(MeasureFigure.Connections, nameof(EchoRoundTripStatus.Mismatch),
                        $"Connection {i + 1} to {endPoint}: the echo differs from the {message.Length} bytes sent.");
                else if (extra > 0)
                    errors.Add(MeasureFigure.Connections, nameof(EchoRoundTripStatus.Mismatch),
                        $"Connection {i + 1} to {endPoint}: the server sent more than the {message.Length} bytes sent (at least {extra} more before the end of stream).");
                else
                {
                    outcome.Completed++;
                    continue;
                }
                if (++failures >= MaxFailures)
                    return GiveUp(outcome, errors, endPoint, count - i - 1);
            }
            outcome.ElapsedMs = LatencyStats.ToMs(Stopwatch.GetTimestamp() - start);
            return outcome;
        }

        private static Outcome Bounded(Outcome outcome, ErrorTally errors, FigureClock clock, int count, int current)
        {
            errors.Add(MeasureFigure.Connections, nameof(EchoRoundTripStatus.TimedOut), clock.Message(MeasureFigure.Connections,
                $"{outcome.Completed} of {count} connections verified, connection {current + 1} cut, {count - current - 1} not tried"));
            outcome.Completed = 0; // a rate over a cut run would mean nothing
            return outcome;
        }

        private static Outcome GiveUp(Outcome outcome, ErrorTally errors, IPEndPoint endPoint, int left)
        {
            if (left > 0)
                errors.Add(MeasureFigure.Connections, "NotTried", $"Gave up on {endPoint} after the failures above: {left} connections not tried.", left);
            outcome.Completed = 0; // a rate over a broken run would mean nothing
            return outcome;
        }
    }
}
