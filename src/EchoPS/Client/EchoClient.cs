using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace EchoPS.Client
{
    /// <summary>
    /// The echo client engine: resolves a target, connects, sends bytes, reads them back, verifies and times them.
    /// Works with any echo server. Knows nothing of PowerShell: results come back from <see cref="Run"/> on the
    /// calling thread, progress through a callback on the calling thread; worker threads (throughput reader,
    /// concurrency clients) never call out. <see cref="Cancel"/> may be called from any thread.
    /// </summary>
    public sealed partial class EchoClient : IDisposable
    {
        // The most bytes a round trip keeps in flight. Writing a whole large message before reading deadlocks once
        // both sides' socket buffers fill; 64 KiB fits in the buffers of any TCP stack.
        private const int Window = 64 * 1024;
        private static readonly long ProgressEveryTicks = Stopwatch.Frequency / 4;

        private readonly EchoClientOptions _options;
        private readonly ManualResetEvent _cancelled = new ManualResetEvent(false);
        private readonly HashSet<Socket> _sockets = new HashSet<Socket>();
        private volatile bool _isCancelled;

        /// <summary>Creates a client; nothing is opened until <see cref="Run"/>.</summary>
        /// <param name="options">What to measure; validated here.</param>
        public EchoClient(EchoClientOptions options)
        {
            _options = options ?? throw new ArgumentNullException(nameof(options));
            _options.Validate();
        }

        /// <summary>
        /// Runs the measurement against one target: one result, or in continuous mode one per interval until
        /// <see cref="Cancel"/>. Failures (refused, timed out, mismatch...) are results with a status, not exceptions.
        /// </summary>
        /// <param name="targetName">A host name or an IP literal (IPv6 with or without brackets).</param>
        /// <param name="onProgress">Called on the calling thread, at most four times a second, on long runs.</param>
        /// <exception cref="OperationCanceledException">The run was cancelled.</exception>
        public IEnumerable<EchoRoundTripResult> Run(string targetName, Action<EchoClientProgress> onProgress = null)
        {
            if (string.IsNullOrWhiteSpace(targetName))
                throw new ArgumentException("A host name or address is required.", nameof(targetName));
            return _options.Mode == EchoTestMode.Continuous
                ? RunContinuous(targetName.Trim())
                : RunOnce(targetName.Trim(), onProgress);
        }

        /// <summary>Stops a run from any thread: closing its sockets wakes every blocked connect, read and write.</summary>
        public void Cancel()
        {
            _isCancelled = true;
            _cancelled.Set();
            lock (_sockets)
            {
                foreach (var socket in _sockets)
                    socket.Dispose();
                _sockets.Clear();
            }
        }

        /// <summary>Cancels anything still running and releases the client.</summary>
        public void Dispose()
        {
            Cancel();
            _cancelled.Dispose();
        }

        private IEnumerable<EchoRoundTripResult> RunOnce(string targetName, Action<EchoClientProgress> onProgress)
        {
            var result = NewResult(targetName);
            var clock = Stopwatch.StartNew();
            try
            {
                var addresses = Resolve(targetName);
                switch (_options.Mode)
                {
                    case EchoTestMode.Throughput:
                        MeasureThroughput(addresses, result, onProgress);
                        break;
                    case EchoTestMode.Concurrency:
                        MeasureConcurrency(addresses, result);
                        break;
                    default:
                        MeasureRoundTrips(addresses, result, onProgress);
                        break;
                }
            }
            catch (EchoFailure failure)
            {
                result.Status = failure.Status;
                result.Message = failure.Message;
            }
            result.DurationMs = clock.Elapsed.TotalMilliseconds;
            yield return result;
        }

        private EchoRoundTripResult NewResult(string targetName) => new EchoRoundTripResult
        {
            Timestamp = DateTimeOffset.Now,
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
                        $"{targetName} is an {FamilyName(literal.AddressFamily)} address, but only {FamilyName(family.Value)} was asked for.");
                return new[] { ToReachable(literal) };
            }

            Task<IPAddress[]> lookup = Dns.GetHostAddressesAsync(targetName);
            IPAddress[] found;
            try
            {
                int signalled = WaitHandle.WaitAny(new[] { ((IAsyncResult)lookup).AsyncWaitHandle, _cancelled }, _options.Timeout);
                ThrowIfCancelled();
                if (signalled == WaitHandle.WaitTimeout)
                    throw new EchoFailure(EchoRoundTripStatus.Unresolved, $"'{targetName}' did not resolve within {Seconds(_options.Timeout)}.");
                found = lookup.GetAwaiter().GetResult();
            }
            catch (SocketException ex)
            {
                throw new EchoFailure(EchoRoundTripStatus.Unresolved, $"'{targetName}' did not resolve: {ex.Message}");
            }

            var usable = found.Select(Addressing.Unmap)
                .Where(a => a.AddressFamily == AddressFamily.InterNetwork || a.AddressFamily == AddressFamily.InterNetworkV6)
                .Where(a => family == null || a.AddressFamily == family)
                .Distinct()
                .ToArray();
            if (usable.Length == 0)
                throw new EchoFailure(EchoRoundTripStatus.Unresolved, family == null
                    ? $"'{targetName}' resolved to no IP address."
                    : $"'{targetName}' has no {FamilyName(family.Value)} address (it resolves to {string.Join(", ", found.Select(a => a.ToString()))}).");
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
            throw failures.Count == 1 ? last : new EchoFailure(last.Status, string.Join(" ", failures.Select(f => f.Message)));
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
                    if (!timedOut)
                        throw new EchoFailure(Classify(ex), DescribeConnectFailure(ex, endPoint));
                }
            }
            Close(socket);
            throw new EchoFailure(EchoRoundTripStatus.TimedOut, $"Connect to {endPoint} timed out after {Seconds(_options.Timeout)}.");
        }

        private Socket Open(AddressFamily family)
        {
            var socket = new Socket(family, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.NoDelay = _options.NoDelay;
                socket.ReceiveTimeout = socket.SendTimeout = TimeoutMs(_options.Timeout);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
            lock (_sockets)
            {
                if (_isCancelled)
                {
                    socket.Dispose();
                    throw new OperationCanceledException();
                }
                _sockets.Add(socket);
            }
            return socket;
        }

        private void Close(Socket socket)
        {
            if (socket == null)
                return;
            lock (_sockets)
                _sockets.Remove(socket);
            socket.Dispose();
        }

        /// <summary>
        /// Sends one message and reads all of it back, keeping at most <see cref="Window"/> bytes in flight;
        /// returns the Stopwatch ticks from the first send to the last byte read. Nothing but socket calls runs
        /// between the two timestamps: counting and comparing happen after.
        /// </summary>
        private long Exchange(Socket socket, RepeatingPattern pattern, int size, byte[] readBack, bool halfCloseAfter,
            Tally tally, long message)
        {
            int offset = pattern.OffsetAt(tally.Position);
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

        private static EchoFailure MismatchFailure(Tally tally) =>
            new EchoFailure(EchoRoundTripStatus.Mismatch,
                $"{tally.Mismatches} of {tally.Received} bytes came back different; the first at stream offset {tally.FirstMismatchOffset}.");

        /// <summary>After a half-close every byte is back: the server must now close its side too, and send nothing more.</summary>
        private void ExpectEndOfStream(Socket socket, byte[] readBack, Tally tally)
        {
            int n;
            try
            {
                n = socket.Receive(readBack, 0, readBack.Length, SocketFlags.None);
            }
            catch (SocketException ex) when (IsTimeout(ex) && !_isCancelled)
            {
                throw new EchoFailure(EchoRoundTripStatus.TimedOut,
                    $"Every byte came back, but the server did not close its side within {Seconds(_options.Timeout)} of our half-close.");
            }
            catch (Exception ex) when (ex is SocketException || ex is ObjectDisposedException)
            {
                throw IoFailure(ex, 0, 0, "the end of the stream");
            }
            if (n > 0)
            {
                tally.AddUnexpected(n);
                throw new EchoFailure(EchoRoundTripStatus.Mismatch,
                    $"The server sent {n} more bytes than it was sent, after the last echo.");
            }
        }

        /// <summary>Waits, waking at once on <see cref="Cancel"/>.</summary>
        private void Pause(TimeSpan time)
        {
            if (time > TimeSpan.Zero && _cancelled.WaitOne(time))
                throw new OperationCanceledException();
            ThrowIfCancelled();
        }

        private void ThrowIfCancelled()
        {
            if (_isCancelled)
                throw new OperationCanceledException();
        }

        /// <summary>A socket error during reads and writes, as a status: a timeout after part of a message means its tail was lost.</summary>
        private Exception IoFailure(Exception ex, long received, long size, string label)
        {
            if (_isCancelled)
                return new OperationCanceledException();
            var status = Classify(ex);
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

        internal static EchoRoundTripStatus Classify(Exception ex)
        {
            if (!(ex is SocketException socketError))
                return EchoRoundTripStatus.Failed;
            if (IsTimeout(socketError))
                return EchoRoundTripStatus.TimedOut;
            switch (socketError.SocketErrorCode)
            {
                case SocketError.ConnectionRefused:
                    return EchoRoundTripStatus.Refused;
                case SocketError.ConnectionReset:
                case SocketError.ConnectionAborted:
                case SocketError.Shutdown: // EPIPE: writing after the server closed
                    return EchoRoundTripStatus.Reset;
                case SocketError.HostUnreachable:
                case SocketError.NetworkUnreachable:
                case SocketError.HostDown:
                case SocketError.NetworkDown:
                case SocketError.AddressNotAvailable:
                    return EchoRoundTripStatus.Unreachable;
                default:
                    return EchoRoundTripStatus.Failed;
            }
        }

        private static bool IsTimeout(SocketException ex) =>
            ex.SocketErrorCode == SocketError.TimedOut || ex.SocketErrorCode == SocketError.WouldBlock;

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

        private static string Describe(Exception ex) =>
            ex is SocketException socketError ? $"{socketError.SocketErrorCode} ({socketError.Message})" : ex.Message;

        private static string FamilyName(AddressFamily family) =>
            family == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4";

        internal static string Seconds(TimeSpan time) =>
            time.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";

        private static int TimeoutMs(TimeSpan time) =>
            (int)Math.Max(1, Math.Min(int.MaxValue, Math.Ceiling(time.TotalMilliseconds)));

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
