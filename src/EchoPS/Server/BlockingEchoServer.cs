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
        private readonly byte[] _buffer;
        private readonly object _socketGate = new object();
        private readonly ManualResetEvent _finished = new ManualResetEvent(false);
        private readonly ManualResetEvent _stopSignal = new ManualResetEvent(false);
        private readonly ConnectionRateLimiter _rateLimiter;
        private readonly Stopwatch _uptime = new Stopwatch();
        private Socket _listener;
        private Socket _client;
        private Thread _thread;
        private volatile bool _stopRequested;
        private volatile EchoServerState _state = EchoServerState.Listening;
        private IPEndPoint _currentClient;
        private long _clientsServed;
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
            _rateLimiter = new ConnectionRateLimiter(options.MaxConnectionsPerMinute, options.MaxTotalConnectionsPerMinute);
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

        /// <summary>Bytes read from all clients.</summary>
        public long BytesReceived => Interlocked.Read(ref _bytesReceived);

        /// <summary>Bytes written back to all clients.</summary>
        public long BytesEchoed => Interlocked.Read(ref _bytesEchoed);

        /// <summary>When the server started listening.</summary>
        public DateTimeOffset StartTime { get; private set; }

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
            BoundEndPoint = (IPEndPoint)_listener.LocalEndPoint;
            StartTime = DateTimeOffset.Now;
            _uptime.Start();
            Raise(EchoServerEvent.Listening(Id, BoundEndPoint,
                $"backlog {_options.Backlog}, buffer {_options.BufferSize} bytes, TCP_NODELAY {(_options.NoDelay ? "on" : "off")}, {_options.DescribeLimits()}"));

            _thread = new Thread(Run) { IsBackground = true, Name = $"EchoPS server {Id}" };
            _thread.Start();
        }

        /// <summary>
        /// Asks the server to stop and waits up to <paramref name="timeout"/> for its thread to end. Closing the
        /// sockets unblocks a blocked accept, read or write at once, so the wait is short in every state.
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
            _stopRequested = true;
            _stopSignal.Set();
            lock (_socketGate)
            {
                if (_state == EchoServerState.Listening || _state == EchoServerState.Serving)
                    _state = EchoServerState.Stopping;
                // This is what wakes the server thread: closing the listener fails a blocked accept, and shutting the
                // client down fails its blocked read or write at once. Closing the client here too is safe only where
                // every call on it goes through the Socket (see LinuxSocketCalls); otherwise the server thread does.
                if (LinuxSocketCalls.Available)
                    Shutdown(_client);
                else
                    ShutdownAndClose(_client);
                ShutdownAndClose(_listener);
            }
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
                    _state = failure == null ? EchoServerState.Stopped : EchoServerState.Failed;
                }
                _uptime.Stop();
                Raise(EchoServerEvent.Stopped(Id, BoundEndPoint, ClientsServed, BytesReceived, BytesEchoed, _uptime.Elapsed));
                _finished.Set();
            }
        }

        /// <summary>Blocks in accept; returns null when stopping or after a transient accept error.</summary>
        private Socket AcceptNext()
        {
            try
            {
                return _listener.Accept();
            }
            catch (Exception ex) when ((ex is SocketException || ex is ObjectDisposedException) && _stopRequested)
            {
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

        private void Serve(Socket client)
        {
            var remote = Addressing.Unmap(client.RemoteEndPoint as IPEndPoint);
            if (!Admit(client, remote))
                return;
            lock (_socketGate)
            {
                if (_stopRequested)
                {
                    client.Dispose();
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
                client.NoDelay = _options.NoDelay;
                client.ReceiveTimeout = Milliseconds(_options.IdleTimeout);
                client.SendTimeout = Milliseconds(_options.SendTimeout);
                reason = Echo(client, session);
            }
            catch (Exception ex) when (ex is SocketException || ex is ObjectDisposedException)
            {
                reason = Classify(ex, session, out message);
            }
            finally
            {
                lock (_socketGate)
                {
                    _client = null;
                    if (_state == EchoServerState.Serving)
                        _state = EchoServerState.Listening;
                }
                Volatile.Write(ref _currentClient, null);
                // After the client's own close nothing is left unread, and a plain close is one syscall less per
                // connection. A cut-off shuts down first, so the client reads its echo and then end of stream.
                if (reason == DisconnectReason.ClientClosed)
                    client.Dispose();
                else
                    ShutdownAndClose(client);
            }

            Interlocked.Increment(ref _clientsServed);
            Raise(EchoServerEvent.Disconnected(Id, BoundEndPoint, remote, session.Received, session.Echoed,
                session.Elapsed(Stopwatch.GetTimestamp()), reason, message ?? Describe(reason)));
        }

        /// <summary>Applies the allowlist and the rate limits; a refused client is closed before any echo.</summary>
        private bool Admit(Socket client, IPEndPoint remote)
        {
            string refusal = null;
            var reason = DisconnectReason.NotAllowed;
            if (!IsAllowed(remote.Address))
                refusal = $"{remote.Address} is not in the allowlist";
            else if (_rateLimiter.IsActive && !_rateLimiter.TryAdmit(remote.Address, DateTime.UtcNow, out refusal))
                reason = DisconnectReason.RateLimited;
            if (refusal == null)
                return true;

            ShutdownAndClose(client);
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
        /// default path (no caps, no throttle) is exactly one receive and one send per chunk: no other syscalls.
        /// </summary>
        private DisconnectReason Echo(Socket client, ClientSession session)
        {
            var cap = _options.MaxBytesPerConnection;
            var sessionLimited = _options.MaxSessionDuration > TimeSpan.Zero;
            var throttle = _options.MaxBytesPerSecond > 0 ? new ByteRateThrottle(_options.MaxBytesPerSecond, DateTime.UtcNow) : null;
            int chunk = throttle == null ? _buffer.Length : Math.Min(_buffer.Length, throttle.MaxChunk);
            int descriptor = LinuxSocketCalls.Available ? (int)client.Handle : -1;
            while (true)
            {
                int want = cap > 0 ? (int)Math.Min(chunk, cap - session.Received) : chunk;
                session.Phase = IoPhase.Receive;
                if (sessionLimited && !ShortenTimeout(client, SocketOptionName.ReceiveTimeout, _options.IdleTimeout, session))
                    return DisconnectReason.SessionLimit;
                int read = descriptor >= 0
                    ? LinuxSocketCalls.Receive(descriptor, _buffer, 0, want)
                    : client.Receive(_buffer, 0, want, SocketFlags.None);
                if (read == 0)
                    return _stopRequested ? DisconnectReason.ServerStopping : DisconnectReason.ClientClosed;
                session.Received += read;
                Interlocked.Add(ref _bytesReceived, read);

                if (throttle != null && _stopSignal.WaitOne(throttle.Take(read, DateTime.UtcNow)))
                    return DisconnectReason.ServerStopping;

                session.Phase = IoPhase.Send;
                int sent = 0;
                while (sent < read)
                {
                    if (sessionLimited && !ShortenTimeout(client, SocketOptionName.SendTimeout, _options.SendTimeout, session))
                        return DisconnectReason.SessionLimit;
                    session.SendStarted = Stopwatch.GetTimestamp();
                    // Send may write less than asked: finish the chunk before reading more.
                    int n = descriptor >= 0
                        ? LinuxSocketCalls.Send(descriptor, _buffer, sent, read - sent)
                        : client.Send(_buffer, sent, read - sent, SocketFlags.None);
                    sent += n;
                    session.Echoed += n;
                    Interlocked.Add(ref _bytesEchoed, n);
                }

                if (cap > 0 && session.Received >= cap)
                    return DisconnectReason.ByteLimit;
            }
        }

        /// <summary>
        /// With a session cap, a blocking call may wait only until the session's end: the socket timeout becomes
        /// the smaller of its own timeout and the time left. Returns false when no time is left.
        /// </summary>
        private bool ShortenTimeout(Socket client, SocketOptionName option, TimeSpan ownTimeout, ClientSession session)
        {
            var left = _options.MaxSessionDuration - session.Elapsed(Stopwatch.GetTimestamp());
            if (left <= TimeSpan.Zero)
                return false;
            var timeout = ownTimeout == TimeSpan.Zero || left < ownTimeout ? left : ownTimeout;
            client.SetSocketOption(SocketOptionLevel.Socket, option, Math.Max(1, Milliseconds(timeout)));
            return true;
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
                    if (_options.SendTimeout > TimeSpan.Zero && Elapsed(session.SendStarted, now) >= _options.SendTimeout - TimeoutSlack)
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

        private string Describe(DisconnectReason reason)
        {
            switch (reason)
            {
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
                _onEvent(e);
            }
            catch
            {
                // A failing listener must not take the server (or the host process) down with it.
            }
        }

        /// <summary>
        /// Closes a socket that another thread may be blocked on: shutting it down first fails that blocked accept,
        /// read or write at once, on every platform.
        /// </summary>
        private static void ShutdownAndClose(Socket socket)
        {
            if (socket == null)
                return;
            Shutdown(socket);
            socket.Dispose();
        }

        private static void Shutdown(Socket socket)
        {
            try
            {
                if (socket != null && socket.Connected)
                    socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception ex) when (ex is SocketException || ex is ObjectDisposedException)
            {
                // Already reset or closed: nothing is blocked on it any more.
            }
        }

        // Rounded up: a socket timeout of 0 means "wait forever", so a non-zero timeout under 1 ms must become 1 ms.
        private static int Milliseconds(TimeSpan timeout) => (int)Math.Ceiling(timeout.TotalMilliseconds);

        private static TimeSpan Elapsed(long fromTimestamp, long toTimestamp) =>
            TimeSpan.FromSeconds((toTimestamp - fromTimestamp) / (double)Stopwatch.Frequency);

        // Socket timeouts fire a little early or late; a deadline this close counts as reached.
        private static readonly TimeSpan TimeoutSlack = TimeSpan.FromMilliseconds(50);

        private enum IoPhase { Receive, Send }

        private sealed class ClientSession
        {
            private readonly long _started;

            public ClientSession(long started)
            {
                _started = started;
            }

            public IoPhase Phase;
            public long SendStarted;
            public long Received;
            public long Echoed;

            public TimeSpan Elapsed(long now) => BlockingEchoServer.Elapsed(_started, now);
        }
    }
}
