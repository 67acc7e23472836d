using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using EchoPS.Net;

namespace EchoPS.Client
{
    /// <summary>
    /// The echo client engine: resolves a target, connects, sends bytes, reads them back, verifies and times them.
    /// Works with any echo server. Knows nothing of PowerShell: results come back from <see cref="Run"/> on the
    /// calling thread, or from <see cref="Start"/> on a measuring thread of its own while the caller reads
    /// <see cref="Progress"/> snapshots, so that drawing progress never takes time from a measurement. Every run
    /// ends by its deadline (<see cref="EchoClientOptions.EffectiveDeadline"/>). <see cref="Cancel"/> may be called
    /// from any thread.
    /// </summary>
    public sealed partial class EchoClient : IDisposable
    {
        // The most bytes a round trip keeps in flight. Writing a whole large message before reading deadlocks once
        // both sides' socket buffers fill; 64 KiB fits in the buffers of any TCP stack.
        private const int Window = 64 * 1024;
        // Once extra bytes are seen after the last echo, at most this many more are read to count them.
        private const int MaxExtraCounted = 1024 * 1024;

        private readonly EchoClientOptions _options;
        private readonly ManualResetEvent _cancelled = new ManualResetEvent(false);
        private readonly SocketSet _sockets;
        private volatile bool _isCancelled;
        private volatile RunDeadline _deadline;
        // What a progress snapshot reads: written by the measuring thread between its timed steps.
        private long _progressDone;
        private long _progressStart;

        /// <summary>Creates a client; nothing is opened until <see cref="Run"/>.</summary>
        /// <param name="options">What to measure; validated here.</param>
        public EchoClient(EchoClientOptions options)
        {
            _options = options ?? throw new ArgumentNullException(nameof(options));
            _options.Validate();
            // No socket opens once the run is cancelled or past its deadline: asked under the set's lock, so a close-all
            // never misses one.
            _sockets = new SocketSet(() => _isCancelled || _deadline?.IsReached == true);
        }

        /// <summary>
        /// Runs the measurement against one target: one result, or in continuous mode one per interval until
        /// <see cref="Cancel"/>. Failures (refused, timed out, mismatch...) are results with a status, not exceptions.
        /// </summary>
        /// <param name="targetName">A host name or an IP literal (IPv6 with or without brackets).</param>
        /// <exception cref="OperationCanceledException">The run was cancelled.</exception>
        public IEnumerable<EchoRoundTripResult> Run(string targetName)
        {
            if (string.IsNullOrWhiteSpace(targetName))
                throw new ArgumentException("A host name or address is required.", nameof(targetName));
            return _options.Mode == EchoTestMode.Continuous
                ? RunContinuous(targetName.Trim())
                : RunOnce(targetName.Trim());
        }

        /// <summary>
        /// Runs <see cref="Run"/> on a measuring thread of its own; the caller takes results from the returned run
        /// and may read <see cref="Progress"/> between them, at whatever pace it draws.
        /// </summary>
        /// <param name="targetName">A host name or an IP literal (IPv6 with or without brackets).</param>
        public EchoClientRun Start(string targetName) => new EchoClientRun(this, Run(targetName), _options.Mode == EchoTestMode.Continuous);

        /// <summary>How far the run has got, built from counters the measuring thread keeps; null before measuring starts or in modes without progress.</summary>
        public EchoClientProgress Progress
        {
            get
            {
                long start = Interlocked.Read(ref _progressStart);
                if (start == 0)
                    return null;
                long done = Interlocked.Read(ref _progressDone);
                switch (_options.Mode)
                {
                    case EchoTestMode.RoundTrip:
                        return new EchoClientProgress((int)(done * 100 / _options.Count), $"{done} of {_options.Count} round trips");
                    case EchoTestMode.Throughput:
                        return StreamProgress(done, Stopwatch.GetTimestamp() - start);
                    default:
                        return null;
                }
            }
        }

        /// <summary>Stops a run from any thread: closing its sockets wakes every blocked connect, read and write.</summary>
        public void Cancel()
        {
            _isCancelled = true;
            _cancelled.Set();
            CloseAll();
        }

        /// <summary>Cancels anything still running and releases the client.</summary>
        public void Dispose()
        {
            Cancel();
            _cancelled.Dispose();
        }

        private IEnumerable<EchoRoundTripResult> RunOnce(string targetName)
        {
            var result = NewResult(targetName);
            var clock = Stopwatch.StartNew();
            using (var deadline = StartDeadline())
            {
                try
                {
                    var addresses = Resolve(targetName);
                    switch (_options.Mode)
                    {
                        case EchoTestMode.Throughput:
                            MeasureThroughput(addresses, result);
                            break;
                        case EchoTestMode.Concurrency:
                            MeasureConcurrency(addresses, result);
                            break;
                        default:
                            MeasureRoundTrips(addresses, result);
                            break;
                    }
                }
                catch (EchoFailure failure)
                {
                    Fail(result, failure);
                }
            }
            result.DurationMs = clock.Elapsed.TotalMilliseconds;
            yield return result;
        }

        /// <summary>Puts a failure into the result; at a deadline, with what was done by then.</summary>
        private void Fail(EchoRoundTripResult result, EchoFailure failure)
        {
            result.Status = failure.Status;
            result.Message = failure.IsDeadline ? $"{failure.Message} {DoneBy(result)}" : failure.Message;
            result.MessageNamesTarget = failure.NamesTarget;
        }

        private string DoneBy(EchoRoundTripResult result)
        {
            string bytes = $"{InvariantFormat.Bytes(result.BytesReceived)} of {InvariantFormat.Bytes(result.BytesSent)} sent came back";
            switch (_options.Mode)
            {
                case EchoTestMode.RoundTrip:
                    return $"By then: {result.RoundTrips} of {_options.Count} round trips done, {bytes}.";
                case EchoTestMode.Concurrency:
                    return $"By then: {result.RoundTrips} of {_options.Concurrency} clients done, {bytes}.";
                default:
                    return $"By then: {bytes}.";
            }
        }

        /// <summary>Starts the clock of one run (or one continuous round): when it runs out, the run's sockets close.</summary>
        private RunDeadline StartDeadline()
        {
            var deadline = new RunDeadline(this, _options.EffectiveDeadline);
            _deadline = deadline;
            return deadline;
        }

        private EchoFailure DeadlineFailure(string during) =>
            new EchoFailure(EchoRoundTripStatus.TimedOut,
                $"The run reached its deadline of {Seconds(_options.EffectiveDeadline)}{during}.", isDeadline: true);

        private void ThrowIfDeadline(string during)
        {
            if (_deadline?.IsReached == true)
                throw DeadlineFailure(during);
        }

        private EchoRoundTripResult NewResult(string targetName) => new EchoRoundTripResult
        {
            Timestamp = DateTime.Now,
            TargetName = targetName,
            Address = string.Empty,
            Port = _options.Port,
            Mode = _options.Mode,
            Size = _options.MessageSize,
            NoDelay = _options.NoDelay,
        };

        /// <summary>An IP literal as is (the unspecified address meaning loopback), or every address a name resolves to.</summary>
        private IPAddress[] Resolve(string targetName)
        {
            var family = _options.Family;
            // Text meant as an IPv4 literal ("10", "127.0.0.010") must be a canonical one: it never goes to the
            // resolver, which would read it the inet_aton way (see Addressing).
            var notLiteral = Addressing.ParseLiteral(targetName, out var literal);
            if (notLiteral != null && Addressing.LooksLikeIPv4(targetName))
                throw new EchoFailure(EchoRoundTripStatus.Unresolved, notLiteral);
            if (literal != null)
            {
                if (family != null && literal.AddressFamily != family)
                    throw new EchoFailure(EchoRoundTripStatus.Unresolved,
                        $"{targetName} is an {FamilyName(literal.AddressFamily)} address, but only {FamilyName(family.Value)} was asked for.", namesTarget: true);
                return new[] { ToReachable(literal) };
            }

            Task<IPAddress[]> lookup;
            try
            {
                lookup = Dns.GetHostAddressesAsync(targetName);
            }
            catch (ArgumentException ex)
            {
                // A name the resolver refuses outright (too long, malformed): a failed lookup, not a crash.
                throw new EchoFailure(EchoRoundTripStatus.Unresolved,
                    $"'{Addressing.Shorten(targetName)}' is not a name the resolver takes: {ex.Message.Split('\n')[0].Trim()}", namesTarget: true);
            }
            IPAddress[] found;
            try
            {
                var deadline = _deadline;
                var handles = deadline == null
                    ? new[] { ((IAsyncResult)lookup).AsyncWaitHandle, _cancelled }
                    : new[] { ((IAsyncResult)lookup).AsyncWaitHandle, _cancelled, deadline.Reached };
                int signalled = WaitHandle.WaitAny(handles, _options.Timeout);
                ThrowIfCancelled();
                ThrowIfDeadline($" while resolving '{targetName}'");
                if (signalled == WaitHandle.WaitTimeout)
                    throw new EchoFailure(EchoRoundTripStatus.Unresolved, $"'{targetName}' did not resolve within {Seconds(_options.Timeout)}.", namesTarget: true);
                found = lookup.GetAwaiter().GetResult();
            }
            catch (SocketException ex)
            {
                throw new EchoFailure(EchoRoundTripStatus.Unresolved, $"'{targetName}' did not resolve: {ex.Message}", namesTarget: true);
            }

            var usable = found.Select(Addressing.Unmap)
                .Where(a => a.AddressFamily == AddressFamily.InterNetwork || a.AddressFamily == AddressFamily.InterNetworkV6)
                .Where(a => family == null || a.AddressFamily == family)
                .Distinct()
                .ToArray();
            if (usable.Length == 0)
                throw new EchoFailure(EchoRoundTripStatus.Unresolved, family == null
                    ? $"'{targetName}' resolved to no IP address."
                    : $"'{targetName}' has no {FamilyName(family.Value)} address (it resolves to {string.Join(", ", found.Select(a => a.ToString()))}).",
                    namesTarget: true);
            return usable;
        }

        /// <summary>A server bound to 0.0.0.0 or :: is reached through the loopback address of the same family.</summary>
        private static IPAddress ToReachable(IPAddress address)
        {
            if (address.Equals(IPAddress.Any))
                return IPAddress.Loopback;
            if (address.Equals(IPAddress.IPv6Any))
                return IPAddress.IPv6Loopback;
            return Addressing.Unmap(address);
        }

        /// <summary>
        /// Tries every address in turn; the first that accepts is used. The result, if given, names the address
        /// being tried, so that a failure reports the last one.
        /// </summary>
        private Connection ConnectAny(IPAddress[] addresses, EchoRoundTripResult result)
        {
            var failures = new List<EchoFailure>();
            foreach (var address in addresses)
            {
                if (result != null)
                    result.Address = address.ToString();
                try
                {
                    var connection = Connect(address);
                    if (result != null)
                        connection.Describe(result);
                    return connection;
                }
                catch (EchoFailure failure)
                {
                    failures.Add(failure);
                }
            }
            var last = failures[failures.Count - 1];
            throw failures.Count == 1 ? last : new EchoFailure(last.Status, string.Join(" ", failures.Select(f => f.Message)), namesTarget: true);
        }

        private Connection Connect(IPAddress address)
        {
            var endPoint = new IPEndPoint(address, _options.Port);
            var socket = Open(address.AddressFamily);
            var gate = new object();
            bool settled = false, timedOut = false;
            // A blocking connect has no timeout of its own: a timer closes the socket, which ends the connect.
            using (new Timer(_ =>
            {
                lock (gate)
                {
                    if (settled)
                        return;
                    timedOut = true;
                }
                socket.Dispose();
            }, null, _options.Timeout, System.Threading.Timeout.InfiniteTimeSpan))
            {
                long start = Stopwatch.GetTimestamp();
                try
                {
                    socket.Connect(endPoint);
                    long end = Stopwatch.GetTimestamp();
                    lock (gate)
                    {
                        settled = true;
                        if (!timedOut)
                            return new Connection(socket, address, LatencyStats.ToMs(end - start));
                    }
                }
                catch (Exception ex) when (ex is SocketException || ex is ObjectDisposedException)
                {
                    lock (gate)
                        settled = true;
                    Close(socket);
                    ThrowIfCancelled();
                    ThrowIfDeadline($" while connecting to {endPoint}");
                    if (!timedOut)
                        throw new EchoFailure(Classify(ex), DescribeConnectFailure(ex, endPoint), namesTarget: true);
                }
            }
            Close(socket);
            throw new EchoFailure(EchoRoundTripStatus.TimedOut, $"Connect to {endPoint} timed out after {Seconds(_options.Timeout)}.", namesTarget: true);
        }

        private Socket Open(AddressFamily family) => Open(family, _options.Timeout);

        /// <summary>A tracked socket with TCP_NODELAY as asked and both socket timeouts; refused once cancelled or past the deadline.</summary>
        private Socket Open(AddressFamily family, TimeSpan timeout)
        {
            var socket = _sockets.Open(family, _options.NoDelay, SocketTimeouts.Milliseconds(timeout));
            if (socket != null)
                return socket;
            ThrowIfCancelled();
            throw DeadlineFailure(" before a connection was opened");
        }

        private void Close(Socket socket) => _sockets.Close(socket);

        /// <summary>
        /// Sends one message from <paramref name="offset"/> in the pattern and reads all of it back, keeping at most
        /// <see cref="Window"/> bytes in flight, so that no message size can deadlock on full socket buffers; returns
        /// the Stopwatch ticks from the first send to the last byte read and, when asked (a concurrency client's wait),
        /// sets <paramref name="firstByteAt"/> to the timestamp of the first byte back. Nothing but socket calls runs
        /// between the timestamps: counting and comparing happen after. It never reads past the message, so bytes
        /// the server adds stay queued for the checks that follow.
        /// </summary>
        private long Exchange(Socket socket, RepeatingPattern pattern, int offset, int size, byte[] readBack, bool halfCloseAfter,
            Tally tally, long message, bool timeFirstByte, ref long firstByteAt)
        {
            int sent = 0, received = 0;
            long elapsed;
            try
            {
                long start = Stopwatch.GetTimestamp();
                while (received < size)
                {
                    if (sent < size && sent - received < Window)
                    {
                        sent += socket.Send(pattern.Bytes, offset + sent, Math.Min(size - sent, Window - (sent - received)), SocketFlags.None);
                        if (sent == size && halfCloseAfter)
                            socket.Shutdown(SocketShutdown.Send);
                    }
                    else
                    {
                        int n = socket.Receive(readBack, received, size - received, SocketFlags.None);
                        if (n == 0)
                            break;
                        if (timeFirstByte && received == 0)
                            firstByteAt = Stopwatch.GetTimestamp();
                        received += n;
                    }
                }
                elapsed = Stopwatch.GetTimestamp() - start;
            }
            catch (Exception ex) when (ex is SocketException || ex is ObjectDisposedException)
            {
                tally.Add(sent, pattern, offset, readBack, 0, received);
                throw IoFailure(ex, received, size, MessageLabel(message));
            }
            tally.Add(sent, pattern, offset, readBack, 0, received);
            if (received < size)
                throw new EchoFailure(EchoRoundTripStatus.ClosedEarly,
                    $"The server closed the connection after echoing {received} of {size} bytes of {MessageLabel(message)}.");
            return elapsed;
        }

        /// <summary>Names a message in errors; built only on failure, never in the timed loop.</summary>
        private static string MessageLabel(long message) => message < 0 ? "the warm-up message" : $"message {message + 1}";

        /// <summary>Throws Mismatch when a byte came back different, or more bytes came back than were sent.</summary>
        private static void Verify(Tally tally)
        {
            long extra = tally.Extra;
            if (tally.Mismatches == 0 && extra == 0)
                return;
            string more = extra > 0 ? $"the server sent {extra} bytes more than it was sent" : null;
            string message = tally.Mismatches > extra
                ? $"{tally.Mismatches - extra} of {tally.Received - extra} bytes came back different; the first at stream offset {tally.FirstMismatchOffset}"
                    + (more != null ? $"; and {more}." : ".")
                : $"The server sent {extra} bytes more than it was sent, from stream offset {tally.Position}.";
            throw new EchoFailure(EchoRoundTripStatus.Mismatch, message);
        }

        /// <summary>
        /// Ends the client's side of a connection and checks that exactly the bytes sent came back: after the FIN
        /// (sent here, or already after the last message with <paramref name="halfClosed"/>) the server must close
        /// its side too and send nothing more. Extra bytes are counted, up to a bound.
        /// </summary>
        private void FinishStream(Socket socket, byte[] readBack, Tally tally, bool halfClosed)
        {
            string when = halfClosed ? "of our half-close" : "of our FIN after the last echo";
            long extra = 0;
            try
            {
                if (!halfClosed)
                    socket.Shutdown(SocketShutdown.Send);
                while (extra < MaxExtraCounted)
                {
                    // Once extra bytes have come, only what is already there is counted: a server that keeps
                    // sending cannot hold the run.
                    if (extra > 0 && !socket.Poll(0, SelectMode.SelectRead))
                        break;
                    int n = socket.Receive(readBack, 0, readBack.Length, SocketFlags.None);
                    if (n == 0)
                        break;
                    extra += n;
                    tally.AddUnexpected(n);
                }
            }
            catch (Exception ex) when (ex is SocketException || ex is ObjectDisposedException)
            {
                ThrowIfCancelled();
                // Bytes already known to differ, or extra, decide the run: how the stream ended after them does not
                // change the verdict.
                if (extra == 0 && tally.Mismatches == 0)
                {
                    if (SocketErrors.IsTimeout(ex) && _deadline?.IsReached != true)
                        throw new EchoFailure(EchoRoundTripStatus.TimedOut,
                            $"Every byte came back, but the server did not close its side within {Seconds(_options.Timeout)} {when}.");
                    throw IoFailure(ex, 0, 0, "the end of the stream");
                }
            }
            Verify(tally);
        }

        /// <summary>
        /// Bytes already waiting before a message is sent, or right after its echo, were never sent: continuous mode
        /// keeps its connection between rounds, so it looks for them at both moments.
        /// </summary>
        private void ExpectNothingPending(Socket socket, byte[] readBack, Tally tally)
        {
            try
            {
                while (socket.Available > 0)
                {
                    int n = socket.Receive(readBack, 0, Math.Min(readBack.Length, socket.Available), SocketFlags.None);
                    if (n == 0)
                        break;
                    tally.AddUnexpected(n);
                }
            }
            catch (Exception ex) when (ex is SocketException || ex is ObjectDisposedException)
            {
                throw IoFailure(ex, 0, 0, "the check for extra bytes");
            }
            Verify(tally);
        }

        /// <summary>Waits, waking at once on <see cref="Cancel"/> or at the deadline.</summary>
        private void Pause(TimeSpan time)
        {
            var deadline = _deadline;
            if (time > TimeSpan.Zero)
                WaitHandle.WaitAny(deadline == null ? new WaitHandle[] { _cancelled } : new WaitHandle[] { _cancelled, deadline.Reached }, time);
            ThrowIfCancelled();
            ThrowIfDeadline(" during a pause");
        }

        private void ThrowIfCancelled()
        {
            if (_isCancelled)
                throw new OperationCanceledException();
        }

        /// <summary>Closes every socket of the run, as the deadline does: blocked calls fail at once.</summary>
        private void CloseAll() => _sockets.CloseAll();

        /// <summary>
        /// A socket error during reads and writes, as a status: a timeout after part of a message means its tail was
        /// lost. <paramref name="callTicks"/>, when known, is how long the failing call ran: a call that reports a
        /// timeout (the kernel's ETIMEDOUT) long before -TimeoutSec could run out met a connection that the server
        /// reset or closed under it, and is reported so, never as TimedOut (issue 23, item 5).
        /// </summary>
        private Exception IoFailure(Exception ex, long received, long size, string label, long? callTicks = null)
        {
            if (_isCancelled)
                return new OperationCanceledException();
            if (_deadline?.IsReached == true)
                return DeadlineFailure(size > 0 ? $" during {label} ({received} of {size} bytes back)" : $" during {label}");
            var status = Classify(ex);
            if (status == EchoRoundTripStatus.TimedOut && callTicks is long ran && ran < SocketTimeouts.Ticks(_options.Timeout) / 2)
                return new EchoFailure(EchoRoundTripStatus.Reset,
                    $"The connection was reset during {label} ({received} of {size} bytes back): the socket reported a timeout after " +
                    $"{InvariantFormat.Number(Math.Round(LatencyStats.ToMs(ran), 1))} ms, long before the {Seconds(_options.Timeout)} timeout, so the server closed or reset it.");
            switch (status)
            {
                case EchoRoundTripStatus.TimedOut when received > 0:
                    return new EchoFailure(EchoRoundTripStatus.Incomplete,
                        $"The echo of {label} stopped after {received} of {size} bytes: nothing more within {Seconds(_options.Timeout)}.");
                case EchoRoundTripStatus.TimedOut:
                    return new EchoFailure(status, $"No echo of {label} within {Seconds(_options.Timeout)}.");
                case EchoRoundTripStatus.Reset:
                    return new EchoFailure(status, $"The connection was reset during {label} ({received} of {size} bytes back).");
                default:
                    return new EchoFailure(status, $"{Describe(ex)} during {label} ({received} of {size} bytes back).");
            }
        }

        /// <summary>A socket error as the run's status, from the shared table (<see cref="SocketErrors"/>).</summary>
        internal static EchoRoundTripStatus Classify(Exception ex)
        {
            if (!(ex is SocketException))
                return EchoRoundTripStatus.Failed;
            return SocketErrors.Classify(ex) switch
            {
                SocketFault.TimedOut => EchoRoundTripStatus.TimedOut,
                SocketFault.Refused => EchoRoundTripStatus.Refused,
                SocketFault.Reset => EchoRoundTripStatus.Reset,
                SocketFault.Unreachable or SocketFault.AddressNotAvailable => EchoRoundTripStatus.Unreachable,
                _ => EchoRoundTripStatus.Failed,
            };
        }

        private static string DescribeConnectFailure(Exception ex, IPEndPoint endPoint)
        {
            switch (Classify(ex))
            {
                case EchoRoundTripStatus.Refused:
                    return $"Connection to {endPoint} refused: nothing listens on port {endPoint.Port}.";
                case EchoRoundTripStatus.Unreachable:
                    return $"Cannot reach {endPoint}: {Describe(ex)}.";
                case EchoRoundTripStatus.TimedOut: // the system's own connect timeout, when shorter than ours
                    return $"Connect to {endPoint} timed out.";
                default:
                    return $"Connect to {endPoint} failed: {Describe(ex)}.";
            }
        }

        private static string Describe(Exception ex) => SocketErrors.Describe(ex);

        private static string FamilyName(AddressFamily family) =>
            family == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4";

        private static string Seconds(TimeSpan time) => InvariantFormat.Seconds(time);

        private static string LocalEndPointOf(Socket socket)
        {
            return Addressing.Unmap((IPEndPoint)socket.LocalEndPoint).ToString();
        }

        /// <summary>An open connection and how long it took.</summary>
        private sealed class Connection
        {
            internal Connection(Socket socket, IPAddress address, double connectMs)
            {
                Socket = socket;
                Address = address;
                ConnectMs = connectMs;
                LocalEndPoint = LocalEndPointOf(socket);
            }

            internal Socket Socket { get; }
            internal IPAddress Address { get; }
            internal double ConnectMs { get; }
            internal string LocalEndPoint { get; }

            internal void Describe(EchoRoundTripResult result)
            {
                result.Address = Address.ToString();
                result.ConnectMs = ConnectMs;
                result.LocalEndPoint = LocalEndPoint;
            }
        }
    }
}
