using System;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using EchoPS.Net;

namespace EchoPS.Client
{
    public sealed partial class EchoClient
    {
        private const int StreamReadSize = 256 * 1024;
        private const double MiB = 1024 * 1024;
        private const int PollSliceMicroseconds = 50_000;

        /// <summary>
        /// Streams the pattern on a writer thread while this thread reads the echo back and verifies every byte at
        /// its offset: both directions flow at once, so full socket buffers can never deadlock the exchange. Then
        /// the client's FIN and the server's: exactly the bytes sent must have come back.
        /// </summary>
        private void MeasureThroughput(IPAddress[] addresses, EchoRoundTripResult result)
        {
            var pattern = RepeatingPattern.Create(_options.Payload, Math.Max(_options.MessageSize, StreamReadSize));
            var readBack = new byte[StreamReadSize];
            var tally = new Tally();
            var socket = ConnectAny(addresses, result).Socket;
            var writer = new StreamWriter(socket, pattern, _options);
            long start = Stopwatch.GetTimestamp();
            long end = 0;
            try
            {
                Interlocked.Exchange(ref _progressStart, start);
                writer.Start();
                ReadAndVerify(socket, writer, pattern, readBack, tally, start);
                end = Stopwatch.GetTimestamp();
                tally.Sent = writer.Sent;
                FinishStream(socket, readBack, tally, _options.HalfClose);
            }
            finally
            {
                if (end == 0)
                    end = Stopwatch.GetTimestamp();
                // Closing the socket also stops a writer still blocked in a send, so the join is short.
                Close(socket);
                writer.Join(_options.Timeout + _options.Timeout);
                tally.Sent = writer.Sent;
                tally.AddTo(result);
                double seconds = LatencyStats.ToMs(end - start) / 1000;
                if (tally.Received > 0 && seconds > 0)
                    result.ThroughputMiBps = Math.Min(tally.Received, tally.Sent) / MiB / seconds;
            }

            result.Status = EchoRoundTripStatus.Success;
            result.Message = string.Format(CultureInfo.InvariantCulture, "{0} verified in {1:0.000} s{2}.",
                InvariantFormat.Bytes(tally.Received), LatencyStats.ToMs(end - start) / 1000,
                _options.HalfClose ? ", end of stream after half-close" : "");
        }

        private void ReadAndVerify(Socket socket, StreamWriter writer, RepeatingPattern pattern, byte[] readBack, Tally tally, long start)
        {
            long timeoutTicks = SocketTimeouts.Ticks(_options.Timeout);
            long lastData = start;
            long readStart = 0;
            try
            {
                while (true)
                {
                    // Done before Sent: once the writer is done, the count read after it is final.
                    bool writerDone = writer.IsDone;
                    long sent = writer.Sent;
                    if (writerDone && writer.Failure != null)
                        throw IoFailure(writer.Failure, tally.Received, sent, "the stream", writer.FailedAfterTicks);
                    if (writerDone && tally.Received >= sent)
                        return;
                    // Nothing outstanding: the writer may be about to stop, so wait in slices instead of one blocking read.
                    if (tally.Received >= sent && !socket.Poll(PollSliceMicroseconds, SelectMode.SelectRead))
                    {
                        if (Stopwatch.GetTimestamp() - lastData > timeoutTicks)
                            throw new EchoFailure(EchoRoundTripStatus.TimedOut,
                                $"The stream stalled: nothing to read for {Seconds(_options.Timeout)} after {tally.Received} bytes.");
                        continue;
                    }
                    readStart = Stopwatch.GetTimestamp();
                    int n = socket.Receive(readBack, 0, readBack.Length, SocketFlags.None);
                    if (n == 0)
                    {
                        // After a half-close the writer shuts its side down and only then marks itself done: a fast
                        // server echoes the rest and closes in between. End of stream after every byte the finished
                        // writer sent is the end of a good stream (FinishStream reads it again); anything else is early.
                        writer.Join(_options.Timeout);
                        if (writer.IsDone && writer.Failure == null && tally.Received >= writer.Sent)
                            return;
                        throw new EchoFailure(EchoRoundTripStatus.ClosedEarly,
                            $"The server closed the connection after echoing {tally.Received} of {writer.Sent} bytes of the stream.");
                    }
                    tally.Add(0, pattern, pattern.OffsetAt(tally.Received), readBack, 0, n);
                    Volatile.Write(ref _progressDone, tally.Received);
                    lastData = Stopwatch.GetTimestamp();
                }
            }
            catch (Exception ex) when (ex is SocketException || ex is ObjectDisposedException)
            {
                throw writer.Failure != null
                    ? IoFailure(writer.Failure, tally.Received, writer.Sent, "the stream", writer.FailedAfterTicks)
                    : IoFailure(ex, tally.Received, writer.Sent, "the stream", readStart == 0 ? (long?)null : Stopwatch.GetTimestamp() - readStart);
            }
        }

        private EchoClientProgress StreamProgress(long received, long elapsedTicks)
        {
            double seconds = LatencyStats.ToMs(elapsedTicks) / 1000;
            double fraction = _options.TotalBytes is long total ? (double)received / total : 0;
            if (_options.Duration is TimeSpan duration)
                fraction = Math.Max(fraction, seconds / duration.TotalSeconds);
            return new EchoClientProgress((int)Math.Min(100, fraction * 100), string.Format(CultureInfo.InvariantCulture,
                "{0} verified, {1:0} MiB/s", InvariantFormat.Bytes(received), received / MiB / Math.Max(seconds, 1e-6)));
        }

        /// <summary>Writes the pattern in chunks until the byte count or the duration is reached, on its own thread.</summary>
        private sealed class StreamWriter
        {
            private readonly Socket _socket;
            private readonly RepeatingPattern _pattern;
            private readonly int _chunk;
            private readonly long _total;
            private readonly TimeSpan? _duration;
            private readonly bool _halfClose;
            private Thread _thread;
            private long _sent;
            private long _callStart;
            private volatile bool _done;

            internal StreamWriter(Socket socket, RepeatingPattern pattern, EchoClientOptions options)
            {
                _socket = socket;
                _pattern = pattern;
                _chunk = options.MessageSize;
                _total = options.TotalBytes ?? long.MaxValue;
                _duration = options.Duration;
                _halfClose = options.HalfClose;
            }

            internal long Sent => Interlocked.Read(ref _sent);

            internal bool IsDone => _done;

            /// <summary>How long the send that failed had run (Stopwatch ticks): a "timeout" long before the timeout is none.</summary>
            internal long? FailedAfterTicks { get; private set; }

            /// <summary>Why writing stopped early, if it did.</summary>
            internal Exception Failure { get; private set; }

            internal void Start()
            {
                _thread = new Thread(Write) { IsBackground = true, Name = "EchoPS stream writer" };
                _thread.Start();
            }

            internal void Join(TimeSpan timeout) => _thread?.Join(timeout);

            private void Write()
            {
                long deadline = _duration is TimeSpan d ? Stopwatch.GetTimestamp() + SocketTimeouts.Ticks(d) : long.MaxValue;
                try
                {
                    long sent = 0;
                    long now;
                    while (sent < _total && (now = Stopwatch.GetTimestamp()) < deadline)
                    {
                        int length = (int)Math.Min(_chunk, _total - sent);
                        _callStart = now;
                        sent += _socket.Send(_pattern.Bytes, _pattern.OffsetAt(sent), length, SocketFlags.None);
                        Interlocked.Exchange(ref _sent, sent);
                    }
                    if (_halfClose)
                        _socket.Shutdown(SocketShutdown.Send);
                }
                catch (Exception ex)
                {
                    // Everything is caught: an exception escaping a thread would end the host process.
                    FailedAfterTicks = _callStart == 0 ? (long?)null : Stopwatch.GetTimestamp() - _callStart;
                    Failure = ex;
                }
                finally
                {
                    _done = true;
                }
            }
        }
    }
}
