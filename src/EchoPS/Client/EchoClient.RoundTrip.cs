using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace EchoPS.Client
{
    public sealed partial class EchoClient
    {
        /// <summary>A warm-up round trip, then Count timed ones on one connection; statistics after the loop.</summary>
        private void MeasureRoundTrips(IPAddress[] addresses, EchoRoundTripResult result, Action<EchoClientProgress> onProgress)
        {
            int size = _options.MessageSize;
            int count = _options.Count;
            // Everything the timed loop touches is allocated before it.
            var pattern = RepeatingPattern.Create(_options.Payload, size);
            var readBack = new byte[size];
            var samples = new long[count];
            var tally = new Tally();
            int done = 0;
            Socket socket = null;
            try
            {
                socket = ConnectAny(addresses, result).Socket;
                Exchange(socket, pattern, size, readBack, false, tally, -1);
                long nextProgress = Stopwatch.GetTimestamp() + ProgressEveryTicks;
                for (; done < count; done++)
                {
                    if (done > 0 && _options.Interval > TimeSpan.Zero)
                        Pause(_options.Interval);
                    bool halfCloseAfter = _options.HalfClose && done == count - 1;
                    samples[done] = Exchange(socket, pattern, size, readBack, halfCloseAfter, tally, done);
                    if (onProgress != null && Stopwatch.GetTimestamp() >= nextProgress)
                    {
                        onProgress(new EchoClientProgress((int)((done + 1L) * 100 / count), $"{done + 1} of {count} round trips"));
                        nextProgress = Stopwatch.GetTimestamp() + ProgressEveryTicks;
                    }
                }
                if (_options.HalfClose)
                    ExpectEndOfStream(socket, readBack, tally);
                if (tally.Mismatches > 0)
                    throw MismatchFailure(tally);
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

        /// <summary>One round trip per interval, one result each; a failed connection is opened again next time.</summary>
        private IEnumerable<EchoRoundTripResult> RunContinuous(string targetName)
        {
            var session = new ContinuousSession(_options);
            try
            {
                for (long sequence = 1; ; sequence++)
                {
                    if (sequence > 1)
                        Pause(_options.Interval);
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
            try
            {
                if (session.Socket == null)
                {
                    var connection = ConnectAny(Resolve(targetName), result);
                    session.Connected(connection);
                    tally.StreamBase = 0;
                    Exchange(session.Socket, session.Pattern, result.Size, session.ReadBack, false, tally, -1);
                }
                else
                {
                    result.Address = session.Address;
                    result.LocalEndPoint = session.LocalEndPoint;
                }
                session.Sample[0] = Exchange(session.Socket, session.Pattern, result.Size, session.ReadBack, false, tally, sequence - 1);
                result.RoundTrips = 1;
                LatencyStats.Fill(result, session.Sample, 1);
                if (tally.Mismatches > 0)
                    throw MismatchFailure(tally);
                result.Status = EchoRoundTripStatus.Success;
                result.Message = $"{result.Size} bytes intact.";
            }
            catch (EchoFailure failure)
            {
                result.Status = failure.Status;
                result.Message = failure.Message;
                Close(session.Socket);
                session.Socket = null;
            }
            finally
            {
                tally.AddTo(result);
                session.Position = tally.Position;
                result.DurationMs = clock.Elapsed.TotalMilliseconds;
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
