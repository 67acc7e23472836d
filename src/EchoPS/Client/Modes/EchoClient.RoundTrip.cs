using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading;

namespace EchoPS.Client
{
    public sealed partial class EchoClient
    {
        /// <summary>
        /// A warm-up round trip, then Count timed ones on one connection, then the client's FIN and the server's:
        /// exactly the bytes sent must have come back. Statistics after the loop.
        /// </summary>
        private void MeasureRoundTrips(IPAddress[] addresses, EchoRoundTripResult result)
        {
            int size = _options.MessageSize;
            int count = _options.Count;
            var interval = _options.EffectiveInterval;
            // Everything the timed loop touches is allocated before it.
            var pattern = RepeatingPattern.Create(_options.Payload, size);
            var readBack = new byte[size];
            var samples = new long[count];
            var tally = new Tally();
            long firstByteAt = 0;
            int done = 0;
            Socket socket = null;
            try
            {
                socket = ConnectAny(addresses, result).Socket;
                Exchange(socket, pattern, pattern.OffsetAt(tally.Position), size, readBack, false, tally, -1, false, ref firstByteAt);
                Interlocked.Exchange(ref _progressStart, Stopwatch.GetTimestamp());
                for (; done < count; done++)
                {
                    if (done > 0 && interval > TimeSpan.Zero)
                        Pause(interval);
                    bool halfCloseAfter = _options.HalfClose && done == count - 1;
                    samples[done] = Exchange(socket, pattern, pattern.OffsetAt(tally.Position), size, readBack, halfCloseAfter, tally, done, false, ref firstByteAt);
                    Volatile.Write(ref _progressDone, done + 1L);
                }
                FinishStream(socket, readBack, tally, _options.HalfClose);
                result.Status = EchoRoundTripStatus.Success;
                result.Message = $"{count} x {size} bytes intact" + (_options.HalfClose ? ", end of stream after half-close." : ".");
            }
            finally
            {
                Close(socket);
                tally.AddTo(result);
                result.RoundTrips = done;
                LatencyStats.Fill(result, samples, done);
            }
        }

        /// <summary>
        /// One round trip per interval, one result each, each round bounded by the deadline; a failed connection is
        /// opened again next time.
        /// </summary>
        private IEnumerable<EchoRoundTripResult> RunContinuous(string targetName)
        {
            var session = new ContinuousSession(_options);
            try
            {
                for (long sequence = 1; ; sequence++)
                {
                    if (sequence > 1)
                        Pause(_options.EffectiveInterval);
                    yield return NextContinuous(targetName, sequence, session);
                }
            }
            finally
            {
                Close(session.Socket);
            }
        }

        private EchoRoundTripResult NextContinuous(string targetName, long sequence, ContinuousSession session)
        {
            var result = NewResult(targetName);
            result.Sequence = sequence;
            var clock = Stopwatch.StartNew();
            var tally = new Tally { StreamBase = session.Position };
            long firstByteAt = 0;
            using (StartDeadline())
            {
                try
                {
                    if (session.Socket == null)
                    {
                        var connection = ConnectAny(Resolve(targetName), result);
                        session.Connected(connection);
                        tally.StreamBase = 0;
                        Exchange(session.Socket, session.Pattern, session.Pattern.OffsetAt(tally.Position), result.Size, session.ReadBack, false, tally, -1, false, ref firstByteAt);
                    }
                    else
                    {
                        result.Address = session.Address;
                        result.LocalEndPoint = session.LocalEndPoint;
                    }
                    // The connection lives on between rounds: bytes waiting before a message, or right after its
                    // echo, were never sent.
                    ExpectNothingPending(session.Socket, session.ReadBack, tally);
                    session.Sample[0] = Exchange(session.Socket, session.Pattern, session.Pattern.OffsetAt(tally.Position), result.Size,
                        session.ReadBack, false, tally, sequence - 1, false, ref firstByteAt);
                    result.RoundTrips = 1;
                    LatencyStats.Fill(result, session.Sample, 1);
                    ExpectNothingPending(session.Socket, session.ReadBack, tally);
                    result.Status = EchoRoundTripStatus.Success;
                    result.Message = $"{result.Size} bytes intact.";
                }
                catch (EchoFailure failure)
                {
                    tally.AddTo(result);
                    Fail(result, failure);
                    Close(session.Socket);
                    session.Socket = null;
                }
                finally
                {
                    if (result.Status == EchoRoundTripStatus.Success)
                        tally.AddTo(result);
                    session.Position = tally.Position;
                    result.DurationMs = clock.Elapsed.TotalMilliseconds;
                }
            }
            return result;
        }

        /// <summary>The connection a continuous run keeps between results, and its buffers.</summary>
        private sealed class ContinuousSession
        {
            internal ContinuousSession(EchoClientOptions options)
            {
                Pattern = RepeatingPattern.Create(options.Payload, options.MessageSize);
                ReadBack = new byte[options.MessageSize];
            }

            internal RepeatingPattern Pattern { get; }
            internal byte[] ReadBack { get; }
            internal long[] Sample { get; } = new long[1];
            internal Socket Socket { get; set; }
            internal string Address { get; private set; }
            internal string LocalEndPoint { get; private set; }
            internal long Position { get; set; }

            internal void Connected(Connection connection)
            {
                Socket = connection.Socket;
                Address = connection.Address.ToString();
                LocalEndPoint = connection.LocalEndPoint;
                Position = 0;
            }
        }
    }
}
