using System;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using EchoPS.LockDown;

namespace EchoPS.Server
{
    /// <summary>Where a server is in its life.</summary>
    public enum EchoServerState
    {
        /// <summary>Bound and waiting in accept for the next client.</summary>
        Listening,
        /// <summary>Echoing one client; others wait in the listen backlog.</summary>
        Serving,
        /// <summary>A stop was requested; the server thread is closing its sockets.</summary>
        Stopping,
        /// <summary>The server thread ended after a stop request; the port is free.</summary>
        Stopped,
        /// <summary>The server thread ended on an unexpected error; the port is free.</summary>
        Failed,
    }

    /// <summary>
    /// A blocking, single-client TCP echo server: one dedicated thread accepts a client, reads and writes the same
    /// bytes back until the client closes, closes, and only then accepts the next one. Other clients wait in the
    /// listen backlog. Knows nothing of PowerShell: it reports through the event callback given to it.
    /// </summary>
    public sealed class BlockingEchoServer : IDisposable
    {
        private static int s_lastId;

        private readonly EchoServerOptions _options;
        private readonly Action<EchoServerEvent> _onEvent;
        private ClientEventFolder _events;
        private readonly byte[] _buffer;
        private readonly object _socketGate = new object();
        private readonly ManualResetEvent _finished = new ManualResetEvent(false);
        private readonly ManualResetEvent _stopSignal = new ManualResetEvent(false);
        private readonly ConnectionRateLimiter _rateLimiter;
        private readonly Stopwatch _uptime = new Stopwatch();
        private readonly byte[] _acceptedAddress = new byte[LinuxSocketCalls.AddressBufferSize];
        private Socket _listener;
        private int _listenerDescriptor = -1;
        private bool _listenerClosed;
        private ClientConnection _client;
        private Thread _thread;
        private volatile bool _stopRequested;
        private long _stopDeadline = long.MaxValue;
        private Timer _forceStop;
        private volatile EchoServerState _state = EchoServerState.Listening;
        private IPEndPoint _currentClient;
        private long _clientsServed;
        private long _clientsRejected;
        private long _bytesReceived;
        private long _bytesEchoed;

        /// <summary>Creates a server; nothing is bound until <see cref="Start"/>.</summary>
        /// <param name="options">How to bind and serve; validated here.</param>
        /// <param name="onEvent">Called on the server's thread for every event; must not block for long.</param>
        public BlockingEchoServer(EchoServerOptions options, Action<EchoServerEvent> onEvent)
            : this(options, onEvent, Interlocked.Increment(ref s_lastId))
        {
        }

        /// <summary>Creates a server with an id the caller keeps unique (a host's own id space); nothing is bound until <see cref="Start"/>.</summary>
        /// <param name="options">How to bind and serve; validated here.</param>
        /// <param name="onEvent">Called on the server's thread for every event; must not block for long.</param>
        /// <param name="id">The server's id; the caller keeps it unique in this process.</param>
        public BlockingEchoServer(EchoServerOptions options, Action<EchoServerEvent> onEvent, int id)
        {
            _options = options ?? throw new ArgumentNullException(nameof(options));
            _options.Validate();
            _onEvent = onEvent ?? throw new ArgumentNullException(nameof(onEvent));
            _buffer = new byte[options.BufferSize];
            _rateLimiter = new ConnectionRateLimiter(options.MaxConnectionsPerMinute, options.MaxTotalConnectionsPerMinute,
                options.RateLimitIPv6PrefixLength);
            Id = id;
        }

        /// <summary>The server's id, unique in this process.</summary>
        public int Id { get; }

        // The public surface is flat and text-valued (endpoints as "127.0.0.1:8080", limits as one line) so that a
        // server serializes cleanly with ConvertTo-Json and reads the same in both PowerShell editions.

        /// <summary>The bound address, as text.</summary>
        public string Address => (BoundEndPoint?.Address ?? _options.Address).ToString();

        /// <summary>The bound port: the one the system chose when 0 was asked for.</summary>
        public int Port => BoundEndPoint?.Port ?? _options.Port;

        /// <summary>The bound endpoint ("127.0.0.1:8080", "[::]:8080"), once started.</summary>
        public string LocalEndPoint => BoundEndPoint?.ToString();

        /// <summary>Where the server is in its life.</summary>
        public EchoServerState State => _state;

        /// <summary>The endpoint of the client being served now, if any.</summary>
        public string CurrentClient => Volatile.Read(ref _currentClient)?.ToString();

        /// <summary>Clients whose connection has ended.</summary>
        public long ClientsServed => Interlocked.Read(ref _clientsServed);

        /// <summary>Clients closed at once, before any echo, by the allowlist or a rate limit.</summary>
        public long ClientsRejected => Interlocked.Read(ref _clientsRejected);

        /// <summary>Bytes read from all clients.</summary>
        public long BytesReceived => Interlocked.Read(ref _bytesReceived);

        /// <summary>Bytes written back to all clients.</summary>
        public long BytesEchoed => Interlocked.Read(ref _bytesEchoed);

        /// <summary>When the server started listening (local time; a DateTime, which serializes exactly).</summary>
        public DateTime StartTime { get; private set; }

        /// <summary>How long the server has been listening, in milliseconds; it stops counting when the server stops.</summary>
        public double UptimeMs => _uptime.Elapsed.TotalMilliseconds;

        /// <summary>How many clients the kernel queues while one is served.</summary>
        public int Backlog => _options.Backlog;

        /// <summary>The size of the one echo buffer, in bytes.</summary>
        public int BufferSize => _options.BufferSize;

        /// <summary>Whether accepted sockets get TCP_NODELAY.</summary>
        public bool NoDelay => _options.NoDelay;

        /// <summary>The lock-down settings in one line: allowlist, timeouts, caps and rate limits.</summary>
        public string Limits => _options.DescribeLimits();

        /// <summary>The bound endpoint, for the engine and the cmdlets.</summary>
        internal IPEndPoint BoundEndPoint { get; private set; }

        /// <summary>The options the server runs with.</summary>
        internal EchoServerOptions Options => _options;

        /// <summary>
        /// Binds and listens on the calling thread, so that a bad address or a busy port is reported here, then
        /// starts the server thread. Throws <see cref="EchoServerStartException"/> with nothing left open.
        /// </summary>
        public void Start()
        {
            if (_listener != null)
                throw new InvalidOperationException($"Server {Id} was started already.");

            _listener = Bind(_options);
            if (LinuxSocketCalls.Available)
                _listenerDescriptor = (int)_listener.Handle;
            BoundEndPoint = (IPEndPoint)_listener.LocalEndPoint;
            StartTime = DateTime.Now;
            _uptime.Start();
            _events = new ClientEventFolder(Id, BoundEndPoint.ToString(), _options.EventRateLimit, _onEvent);
            Raise(EchoServerEvent.Listening(Id, BoundEndPoint,
                $"backlog {_options.Backlog}, buffer {_options.BufferSize} bytes, TCP_NODELAY {(_options.NoDelay ? "on" : "off")}, {_options.DescribeLimits()}, {_options.DescribeEventRate()}"));

            _thread = new Thread(Run) { IsBackground = true, Name = $"EchoPS server {Id}" };
            _thread.Start();
        }

        /// <summary>
        /// Asks the server to stop and waits up to <paramref name="timeout"/> for its thread to end. Closing the
        /// sockets unblocks a blocked accept, read or write at once, so the wait is short in every state: at most
        /// <see cref="StopGrace"/> more while a connected client is still receiving its echo.
        /// </summary>
        /// <returns>True when the server has ended.</returns>
        public bool Stop(TimeSpan timeout)
        {
            RequestStop();
            return _thread == null || _finished.WaitOne(timeout);
        }

        /// <summary>Asks the server to stop without waiting.</summary>
        public void RequestStop()
        {
            lock (_socketGate)
            {
                if (_stopRequested)
                    return;
                Interlocked.Exchange(ref _stopDeadline, Stopwatch.GetTimestamp() + Ticks(StopGrace));
                _stopRequested = true;
                _stopSignal.Set();
                if (_state == EchoServerState.Listening || _state == EchoServerState.Serving)
                    _state = EchoServerState.Stopping;
                // This is what wakes the server thread: shutting the listener down fails a blocked accept. A connected
                // client is ended without losing echo (see CloseLingering): when it has every byte it was sent, shutting
                // it down both ways wakes a blocked read or write at once; otherwise only the sending side is shut (a FIN
                // after the echo, and a blocked write fails), and the timer forces the rest after StopGrace, so a stop
                // stays short. On Linux the client and the listener are used through bare descriptors (see
                // LinuxSocketCalls), so only the server thread may close them: a descriptor closed here could be reused
                // by another socket before that thread's next call. Elsewhere every call goes through the Socket.
                if (_client != null)
                {
                    if (_client.Unacknowledged() == 0)
                        ForceWake(_client);
                    else
                    {
                        _client.ShutdownSend();
                        _forceStop = new Timer(_ => ForceWakeClient(), null, StopGrace, Timeout.InfiniteTimeSpan);
                    }
                }
                if (_listener == null || _listenerClosed)
                    return;
                if (LinuxSocketCalls.Available)
                    LinuxSocketCalls.Shutdown(_listenerDescriptor);
                else
                    _listener.Dispose();
            }
        }

        private void ForceWakeClient()
        {
            lock (_socketGate)
                ForceWake(_client);
        }

        /// <summary>
        /// Wakes the server thread wherever it is blocked on <paramref name="client"/>: shutting it down both ways fails
        /// a blocked read or write at once. Closing it here too is safe only where every call on it goes through the
        /// Socket (see LinuxSocketCalls); otherwise the server thread closes it.
        /// </summary>
        private static void ForceWake(ClientConnection client)
        {
            client?.Shutdown();
            if (!LinuxSocketCalls.Available)
                client?.Close();
        }

        /// <summary>Stops the server, waiting up to five seconds for its thread to end.</summary>
        public void Dispose()
        {
            Stop(TimeSpan.FromSeconds(5));
        }

        private static Socket Bind(EchoServerOptions options)
        {
            var socket = new Socket(options.Address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                if (options.Address.Equals(IPAddress.IPv6Any))
                    socket.DualMode = true;
                // Quick rebind needs no option here: on Unix .NET sets SO_REUSEADDR itself before bind, so a restarted
                // server binds while old connections sit in TIME_WAIT. Setting ReuseAddress explicitly would add
                // SO_REUSEPORT, which lets a second listener share the port and take part of its connections.
                socket.Bind(new IPEndPoint(options.Address, options.Port));
                socket.Listen(options.Backlog);
                // Linux copies these options from the listener to every socket it accepts: set once here, they cost
                // no syscall per connection. (SO_RCVTIMEO also bounds accept itself: AcceptNext accepts again.)
                if (LinuxSocketCalls.Available)
                    ApplyClientOptions(socket, options);
                return socket;
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                throw new EchoServerStartException(options.Address, options.Port, ex);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        private void Run()
        {
            // An exception escaping this thread would kill the host process: everything is caught and reported.
            Exception failure = null;
            try
            {
                while (!_stopRequested)
                {
                    var client = AcceptNext();
                    if (client != null)
                        Serve(client);
                }
            }
            catch (Exception ex)
            {
                failure = ex;
                Raise(EchoServerEvent.Failure(Id, BoundEndPoint, ex));
            }
            finally
            {
                lock (_socketGate)
                {
                    _listener.Dispose();
                    _listenerClosed = true;
                    _forceStop?.Dispose();
                    _state = failure == null ? EchoServerState.Stopped : EchoServerState.Failed;
                }
                _uptime.Stop();
                Raise(EchoServerEvent.Stopped(Id, BoundEndPoint, ClientsServed, BytesReceived, BytesEchoed, _uptime.Elapsed));
                _events.Dispose();
                _finished.Set();
            }
        }

        /// <summary>
        /// Blocks in accept; returns null when stopping, when the listener's receive timeout (the idle timeout, on
        /// Linux) ran out with no client, or after a transient accept error.
        /// </summary>
        private ClientConnection AcceptNext()
        {
            try
            {
                if (LinuxSocketCalls.Available)
                {
                    int descriptor = LinuxSocketCalls.Accept(_listenerDescriptor, _acceptedAddress);
                    return descriptor < 0 ? null : ClientConnection.FromDescriptor(descriptor, _acceptedAddress);
                }
                var socket = _listener.Accept();
                ApplyClientOptions(socket, _options);
                return ClientConnection.FromSocket(socket);
            }
            catch (Exception ex) when ((ex is SocketException || ex is ObjectDisposedException) && _stopRequested)
            {
                return null;
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionAborted)
            {
                // A client that reset before its turn came: nothing to serve, and no reason to pause.
                return null;
            }
            catch (SocketException ex)
            {
                // Out of descriptors or a client that vanished before accept: report, pause so an error that
                // persists cannot spin a CPU, and keep serving.
                Raise(EchoServerEvent.Failure(Id, BoundEndPoint, ex));
                Thread.Sleep(100);
                return null;
            }
        }

        /// <summary>The per-connection options: TCP_NODELAY and the idle and send timeouts as socket timeouts.</summary>
        private static void ApplyClientOptions(Socket socket, EchoServerOptions options)
        {
            socket.NoDelay = options.NoDelay;
            socket.ReceiveTimeout = Milliseconds(options.IdleTimeout);
            socket.SendTimeout = Milliseconds(options.SendTimeout);
        }

        private void Serve(ClientConnection client)
        {
            var remote = Addressing.Unmap(client.RemoteEndPoint);
            if (!Admit(client, remote))
                return;
            lock (_socketGate)
            {
                if (_stopRequested)
                {
                    client.Close();
                    return;
                }
                _client = client;
                _state = EchoServerState.Serving;
            }
            Volatile.Write(ref _currentClient, remote);
            Raise(EchoServerEvent.Connected(Id, BoundEndPoint, remote));

            var session = new ClientSession(Stopwatch.GetTimestamp());
            var reason = DisconnectReason.Error;
            string message = null;
            try
            {
                reason = Echo(client, session);
            }
            catch (Exception ex) when (ex is SocketException || ex is ObjectDisposedException)
            {
                reason = Classify(ex, session, out message);
            }
            finally
            {
                // No other thread may reach the connection once it is closed (its descriptor number could be reused).
                lock (_socketGate)
                {
                    _client = null;
                    if (_state == EchoServerState.Serving)
                        _state = EchoServerState.Listening;
                }
                Volatile.Write(ref _currentClient, null);
                // After the client's own close nothing is left unread, and a plain close is one syscall less per
                // connection. After a reset there is nobody to linger for. Every end the server chose lingers, so the
                // client reads every byte counted as echoed, then end of stream.
                if (reason == DisconnectReason.ClientClosed)
                    client.Close();
                else if (reason == DisconnectReason.ClientReset || reason == DisconnectReason.Error)
                {
                    client.Shutdown();
                    client.Close();
                }
                else
                    CloseLingering(client);
            }

            Interlocked.Increment(ref _clientsServed);
            Raise(EchoServerEvent.Disconnected(Id, BoundEndPoint, remote, session.Received, session.Echoed,
                session.Elapsed(Stopwatch.GetTimestamp()), reason, message ?? Describe(reason, session)));
        }

        /// <summary>
        /// Ends a connection the server cut off without throwing away echo still in flight. Closing a socket with
        /// unread input makes the kernel send a reset, and a reset discards whatever of the echo the client had not
        /// yet received. So: stop echoing, shut down the sending side (a FIN after the last echoed byte), read and
        /// discard the client's further input until it closes too, resets, or is quiet with every byte acknowledged,
        /// for at most <see cref="LingerTimeout"/> (a stop shortens that to what is left of <see cref="StopGrace"/>);
        /// then close.
        /// </summary>
        private void CloseLingering(ClientConnection client)
        {
            var deadline = Stopwatch.GetTimestamp() + Ticks(LingerTimeout);
            try
            {
                client.ShutdownSend();
                while (true)
                {
                    var stopping = _stopRequested;
                    var now = Stopwatch.GetTimestamp();
                    var end = stopping ? Math.Min(deadline, Interlocked.Read(ref _stopDeadline)) : deadline;
                    // Stopping, the client having every byte and our FIN is enough: what it sends later is refused by
                    // a reset, which no longer costs it any echo.
                    if (now >= end || (stopping && client.Unacknowledged() == 0))
                        break;
                    var waitMicroseconds = (int)Math.Min(LingerSlice.Ticks / 10, (end - now) * 1000000 / Stopwatch.Frequency);
                    if (client.PollRead(Math.Max(1, waitMicroseconds)))
                    {
                        if (client.Receive(_buffer, 0, _buffer.Length) <= 0)
                            break; // end of stream: nothing more can arrive (a reset throws)
                    }
                    else if (client.Unacknowledged() == 0)
                    {
                        break; // quiet, and everything we sent is acknowledged
                    }
                }
            }
            catch (Exception ex) when (ex is SocketException || ex is ObjectDisposedException)
            {
                // Reset or force-closed by a stop: nothing left to wait for.
            }
            client.Close();
        }

        /// <summary>
        /// When the client's connection was established, as far as the kernel tells: a queued client arrived before
        /// it was accepted, and a rate limit counts arrivals. The accept time where the kernel does not say.
        /// </summary>
        private static DateTime ArrivalTime(ClientConnection client)
        {
            var now = DateTime.UtcNow;
            var since = client.SinceEstablished();
            return since.HasValue ? now - since.Value : now;
        }

        /// <summary>Applies the allowlist and the rate limits; a refused client is closed before any echo.</summary>
        private bool Admit(ClientConnection client, IPEndPoint remote)
        {
            string refusal = null;
            var reason = DisconnectReason.NotAllowed;
            if (!IsAllowed(remote.Address))
                refusal = $"{remote.Address} is not in the allowlist";
            else if (_rateLimiter.IsActive && !_rateLimiter.TryAdmit(remote.Address, ArrivalTime(client), out refusal))
                reason = DisconnectReason.RateLimited;
            if (refusal == null)
                return true;

            client.Shutdown();
            client.Close();
            Interlocked.Increment(ref _clientsRejected);
            Raise(EchoServerEvent.Rejected(Id, BoundEndPoint, remote, reason, refusal));
            return false;
        }

        private bool IsAllowed(IPAddress address)
        {
            if (_options.AllowList.Count == 0)
                return true;
            foreach (var range in _options.AllowList)
            {
                if (range.Contains(address))
                    return true;
            }
            return false;
        }

        /// <summary>
        /// The blocking loop itself: read a chunk, write all of it back, until end of stream or a limit. The
        /// default path (no caps, no throttle) is one receive and one send per chunk; the slot-hold limit adds a clock
        /// read per chunk and, while it is far off, a few socket-timeout changes per session.
        /// </summary>
        private DisconnectReason Echo(ClientConnection client, ClientSession session)
        {
            var cap = _options.MaxBytesPerConnection;
            var sessionLimited = _options.MaxSessionDuration > TimeSpan.Zero;
            var holdLimited = _options.MaxSlotHold > TimeSpan.Zero;
            var throttle = _options.MaxBytesPerSecond > 0 ? new ByteRateThrottle(_options.MaxBytesPerSecond, DateTime.UtcNow) : null;
            int chunk = throttle == null ? _buffer.Length : Math.Min(_buffer.Length, throttle.MaxChunk);
            var receive = new TimeoutState(Milliseconds(_options.IdleTimeout));
            var send = new TimeoutState(Milliseconds(_options.SendTimeout));
            long nextHoldCheck = holdLimited ? session.Started + Ticks(_options.MaxSlotHold) : long.MaxValue;
            long lastRead = session.Started;
            while (true)
            {
                int want = cap > 0 ? (int)Math.Min(chunk, cap - session.Received) : chunk;
                session.Phase = IoPhase.Receive;
                int read;
                if (holdLimited || sessionLimited)
                {
                    var now = Stopwatch.GetTimestamp();
                    if (now >= nextHoldCheck)
                    {
                        session.Waiting = ClientsWaiting();
                        if (session.Waiting > 0)
                            return DisconnectReason.SlotHoldLimit;
                        nextHoldCheck = now + Ticks(SlotHoldRecheck);
                    }
                    var limit = BoundReceive(client, receive, now, lastRead, nextHoldCheck, session);
                    if (limit.HasValue)
                        return limit.Value;
                    try
                    {
                        read = client.Receive(_buffer, 0, want);
                    }
                    catch (SocketException ex) when (ex.SocketErrorCode == SocketError.TimedOut && receive.Shortened)
                    {
                        continue; // woken early for the slot-hold check or the session cap: the loop's top decides
                    }
                    lastRead = Stopwatch.GetTimestamp();
                }
                else
                {
                    read = client.Receive(_buffer, 0, want);
                }
                if (read == 0)
                    return _stopRequested ? DisconnectReason.ServerStopping : DisconnectReason.ClientClosed;
                session.Received += read;
                Interlocked.Add(ref _bytesReceived, read);

                if (throttle != null && _stopSignal.WaitOne(throttle.Take(read, DateTime.UtcNow)))
                    return DisconnectReason.ServerStopping;

                session.Phase = IoPhase.Send;
                session.WriteStarted = Stopwatch.GetTimestamp();
                int sent = 0;
                while (sent < read)
                {
                    // The send timeout bounds the whole write of this chunk, not each syscall: after a partial send
                    // the next one may wait only for what is left (and never past the session cap).
                    if (sent > 0 || sessionLimited || send.Shortened)
                    {
                        var limit = BoundSend(client, send, sent > 0, sessionLimited, session);
                        if (limit.HasValue)
                            return limit.Value;
                    }
                    // Send may write less than asked: finish the chunk before reading more.
                    int n = client.Send(_buffer, sent, read - sent);
                    sent += n;
                    session.Echoed += n;
                    Interlocked.Add(ref _bytesEchoed, n);
                }

                if (cap > 0 && session.Received >= cap)
                    return DisconnectReason.ByteLimit;
            }
        }

        /// <summary>
        /// Sets the receive timeout for the next read: the idle timeout left since the last read, no later than the
        /// session's end (exactly), and ending near the next slot-hold check (lazily: the timeout is changed only
        /// when it would overrun that check by more than <see cref="SlotHoldSlack"/>, which takes a few changes a
        /// session). Returns the limit that has run out, if any.
        /// </summary>
        private DisconnectReason? BoundReceive(ClientConnection client, TimeoutState timeout, long now, long lastRead, long nextHoldCheck, ClientSession session)
        {
            long wait = long.MaxValue;
            if (_options.IdleTimeout > TimeSpan.Zero)
            {
                wait = lastRead + Ticks(_options.IdleTimeout) - now;
                if (wait <= 0)
                    return DisconnectReason.IdleTimeout;
            }
            if (_options.MaxSessionDuration > TimeSpan.Zero)
            {
                var left = session.Started + Ticks(_options.MaxSessionDuration) - now;
                if (left <= 0)
                    return DisconnectReason.SessionLimit;
                // Exact, as the session cap always was: the timeout is set for every read.
                timeout.Set(client, SocketOptionName.ReceiveTimeout, Math.Min(wait, Math.Min(left, nextHoldCheck - now)));
                return null;
            }
            var holdLeft = nextHoldCheck - now;
            var slack = Ticks(SlotHoldSlack);
            if (timeout.Current <= Math.Min(wait + Ticks(TimeoutSlack), holdLeft + slack))
                return null; // the timeout in place ends in time
            timeout.Set(client, SocketOptionName.ReceiveTimeout, Math.Min(wait, holdLeft / 2 + slack));
            return null;
        }

        /// <summary>
        /// Sets the send timeout for the next send of a write: what is left of the write's send timeout, no later than
        /// the session's end; the configured timeout again for the first send of a write. Returns the limit that has
        /// run out, if any.
        /// </summary>
        private DisconnectReason? BoundSend(ClientConnection client, TimeoutState timeout, bool partWritten, bool sessionLimited, ClientSession session)
        {
            var now = Stopwatch.GetTimestamp();
            long wait = long.MaxValue;
            if (_options.SendTimeout > TimeSpan.Zero)
            {
                wait = partWritten ? session.WriteStarted + Ticks(_options.SendTimeout) - now : Ticks(_options.SendTimeout);
                if (wait <= 0)
                    return DisconnectReason.SendTimeout;
            }
            if (sessionLimited)
            {
                var left = session.Started + Ticks(_options.MaxSessionDuration) - now;
                if (left <= 0)
                    return DisconnectReason.SessionLimit;
                wait = Math.Min(wait, left);
            }
            timeout.Set(client, SocketOptionName.SendTimeout, wait);
            return null;
        }

        /// <summary>Clients waiting in the listen backlog now: counted on Linux, otherwise 1 when any is (or 0).</summary>
        private int ClientsWaiting()
        {
            try
            {
                var queued = LinuxTcpInfo.QueuedConnections(_listener);
                if (queued.HasValue)
                    return queued.Value;
                return _listener.Poll(0, SelectMode.SelectRead) ? 1 : 0;
            }
            catch (Exception ex) when (ex is SocketException || ex is ObjectDisposedException)
            {
                return 0; // the listener is closing: the server is stopping
            }
        }

        private DisconnectReason Classify(Exception ex, ClientSession session, out string message)
        {
            message = null;
            if (_stopRequested || ex is ObjectDisposedException)
                return DisconnectReason.ServerStopping;
            var error = ((SocketException)ex).SocketErrorCode;
            var now = Stopwatch.GetTimestamp();
            switch (error)
            {
                case SocketError.TimedOut:
                case SocketError.WouldBlock:
                    if (_options.MaxSessionDuration > TimeSpan.Zero && session.Elapsed(now) >= _options.MaxSessionDuration - TimeoutSlack)
                        return DisconnectReason.SessionLimit;
                    if (session.Phase == IoPhase.Receive)
                        return DisconnectReason.IdleTimeout;
                    // .NET reports a reset that hits a blocking send as TimedOut (the syscall said ECONNRESET): only a
                    // send that really waited out its timeout is a send timeout.
                    if (_options.SendTimeout > TimeSpan.Zero && Elapsed(session.WriteStarted, now) >= _options.SendTimeout - TimeoutSlack)
                        return DisconnectReason.SendTimeout;
                    return DisconnectReason.ClientReset;
                case SocketError.ConnectionReset:
                case SocketError.ConnectionAborted:
                case SocketError.Shutdown: // EPIPE: the client closed while its echo was still being written
                    return DisconnectReason.ClientReset;
                default:
                    message = $"{error} during {session.Phase.ToString().ToLowerInvariant()}";
                    return DisconnectReason.Error;
            }
        }

        private string Describe(DisconnectReason reason, ClientSession session)
        {
            switch (reason)
            {
                case DisconnectReason.SlotHoldLimit:
                    return $"held the only slot for {_options.MaxSlotHold.TotalSeconds:0.###} s while {session.Waiting} " +
                        (session.Waiting == 1 ? "client waited" : "clients waited");
                case DisconnectReason.IdleTimeout: return $"sent nothing for {_options.IdleTimeout.TotalSeconds:0.###} s";
                case DisconnectReason.SendTimeout: return $"did not read its echo for {_options.SendTimeout.TotalSeconds:0.###} s";
                case DisconnectReason.ByteLimit: return $"reached the cap of {_options.MaxBytesPerConnection} bytes";
                case DisconnectReason.SessionLimit: return $"reached the session cap of {_options.MaxSessionDuration.TotalSeconds:0.###} s";
                default: return null;
            }
        }

        private void Raise(EchoServerEvent e)
        {
            try
            {
                _events.Post(e);
            }
            catch
            {
                // A failing listener must not take the server (or the host process) down with it.
            }
        }

        /// <summary>A socket timeout in whole milliseconds, rounded up: a timeout under 1 ms must not become 0 (none).</summary>
        private static int Milliseconds(TimeSpan timeout) => (int)Math.Ceiling(timeout.TotalMilliseconds);

        private static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

        private static TimeSpan Elapsed(long fromTimestamp, long toTimestamp) =>
            TimeSpan.FromSeconds((toTimestamp - fromTimestamp) / (double)Stopwatch.Frequency);

        // Socket timeouts fire a little early or late; a deadline this close counts as reached.
        private static readonly TimeSpan TimeoutSlack = TimeSpan.FromMilliseconds(50);

        /// <summary>
        /// How long a cut-off connection may linger while the client reads the rest of its echo and closes. The slot
        /// stays taken meanwhile, so it is short; it ends at once when the client closes or resets, or is quiet with
        /// everything acknowledged.
        /// </summary>
        internal static readonly TimeSpan LingerTimeout = TimeSpan.FromSeconds(2);

        /// <summary>
        /// How long a stop waits for a connected client to receive echo still in flight before it forces the
        /// connection down (a client that has everything already costs no wait): stopping stays prompt.
        /// </summary>
        internal static readonly TimeSpan StopGrace = TimeSpan.FromMilliseconds(250);

        // How often a lingering close looks again whether everything sent was acknowledged.
        private static readonly TimeSpan LingerSlice = TimeSpan.FromMilliseconds(10);

        // After the slot-hold limit, how often a client alone in the slot has the backlog looked at again, and how late
        // a check may come (the receive timeout is changed lazily so that a session takes only a few such changes).
        private static readonly TimeSpan SlotHoldRecheck = TimeSpan.FromSeconds(1);
        private static readonly TimeSpan SlotHoldSlack = TimeSpan.FromSeconds(1);

        /// <summary>A socket timeout as last set on the socket, so that it is changed only when it must be.</summary>
        private sealed class TimeoutState
        {
            private readonly int _configuredMs;
            private int _currentMs;

            public TimeoutState(int configuredMs)
            {
                _configuredMs = _currentMs = configuredMs;
            }

            /// <summary>The timeout in place, in Stopwatch ticks; long.MaxValue for none.</summary>
            public long Current => _currentMs == 0 ? long.MaxValue : _currentMs * Stopwatch.Frequency / 1000;

            /// <summary>Whether the timeout in place is not the configured one.</summary>
            public bool Shortened => _currentMs != _configuredMs;

            /// <summary>Sets the timeout to <paramref name="ticks"/> (long.MaxValue for none), in whole ms rounded up.</summary>
            public void Set(ClientConnection client, SocketOptionName option, long ticks)
            {
                int ms = ticks == long.MaxValue ? 0
                    : (int)Math.Min(int.MaxValue, Math.Max(1, (ticks * 1000 + Stopwatch.Frequency - 1) / Stopwatch.Frequency));
                if (ms == _currentMs)
                    return;
                client.SetTimeout(option, ms);
                _currentMs = ms;
            }
        }

        private enum IoPhase { Receive, Send }

        private sealed class ClientSession
        {
            public ClientSession(long started)
            {
                Started = started;
            }

            public readonly long Started;
            public IoPhase Phase;
            // When the write of the current chunk began: the send timeout bounds the whole write.
            public long WriteStarted;
            public long Received;
            public long Echoed;
            // Clients in the backlog when the slot-hold limit ended the session.
            public int Waiting;

            public TimeSpan Elapsed(long now) => BlockingEchoServer.Elapsed(Started, now);
        }
    }
}
