using System;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using EchoPS.LockDown;
using EchoPS.Net;
using EchoPS.Server.Sessions;

namespace EchoPS.Server
{
    /// <summary>Where a server is in its life.</summary>
    public enum EchoServerState
    {
        /// <summary>Bound and waiting in accept for the next client.</summary>
        Listening,
        /// <summary>Echoing at least one client (one per busy slot); others wait in the listen backlog.</summary>
        Serving,
        /// <summary>A stop was requested; the server thread is closing its sockets.</summary>
        Stopping,
        /// <summary>The server thread ended after a stop request; the port is free.</summary>
        Stopped,
        /// <summary>The server thread ended on an unexpected error; the port is free.</summary>
        Failed,
    }

    /// <summary>
    /// An echo server, whatever its model: what the registry, the cmdlets, the job, the completers and the format
    /// views know of a server. It owns the life every model shares: id, options, bind, the server thread, counters,
    /// events (through the <see cref="ClientEventFolder"/>), admission and the stop protocol. A model (see
    /// <see cref="BlockingEchoServer"/>) is an accept strategy: <see cref="Serve"/> accepts clients and runs an
    /// <see cref="EchoSession"/> for each, and <see cref="WakeSessions"/> reaches its live connections on a stop.
    /// Knows nothing of PowerShell: it reports through the event callback given to it.
    /// </summary>
    public abstract class EchoServer : IDisposable, ISessionHost
    {
        private static int s_lastId;

        private readonly Action<EchoServerEvent> _onEvent;
        private readonly ManualResetEvent _finished = new ManualResetEvent(false);
        private readonly ManualResetEvent _stopSignal = new ManualResetEvent(false);
        private readonly Stopwatch _uptime = new Stopwatch();
        private ClientEventFolder _events;
        private EchoListener _listener;
        private Thread _thread;
        private volatile bool _stopRequested;
        private long _stopDeadline = long.MaxValue;
        private volatile EchoServerState _state = EchoServerState.Listening;
        private long _clientsServed;
        private long _clientsRejected;
        private long _bytesReceived;
        private long _bytesEchoed;

        /// <summary>Taken by a stop request and by whatever a stop must reach (the listener, live connections).</summary>
        private protected readonly object StopGate = new object();

        private protected EchoServer(EchoServerOptions options, Action<EchoServerEvent> onEvent, int id)
        {
            Options = options ?? throw new ArgumentNullException(nameof(options));
            Options.Validate();
            _onEvent = onEvent ?? throw new ArgumentNullException(nameof(onEvent));
            Admission = new Admission(options);
            Id = id;
        }

        /// <summary>
        /// A server of the model the options ask for, with the id given; nothing is bound until <see cref="Start"/>.
        /// The one place a host (the cmdlet, the job) gets a server: a new model is chosen here. Today there is one,
        /// the blocking server with <see cref="EchoServerOptions.Slots"/> slots (1: the single-client baseline).
        /// </summary>
        internal static EchoServer Create(EchoServerOptions options, Action<EchoServerEvent> onEvent, int id) =>
            new BlockingEchoServer(options, onEvent, id);

        /// <summary>A new server id, unique in this process (for servers whose host keeps no id space of its own).</summary>
        private protected static int NewId() => Interlocked.Increment(ref s_lastId);

        /// <summary>The server's id, unique in this process.</summary>
        public int Id { get; }

        // The public surface is flat and text-valued (endpoints as "127.0.0.1:8080", limits as one line) so that a
        // server serializes cleanly with ConvertTo-Json and reads the same in both PowerShell editions.

        /// <summary>The bound address, as text.</summary>
        public string Address => (BoundEndPoint?.Address ?? Options.Address).ToString();

        /// <summary>The bound port: the one the system chose when 0 was asked for.</summary>
        public int Port => BoundEndPoint?.Port ?? Options.Port;

        /// <summary>The bound endpoint ("127.0.0.1:8080", "[::]:8080"), once started.</summary>
        public string LocalEndPoint { get; private set; }

        /// <summary>Where the server is in its life.</summary>
        public EchoServerState State => _state;

        /// <summary>The endpoints of the clients in service now, one per busy slot ("127.0.0.1:50001, 127.0.0.1:50002"), if any.</summary>
        public abstract string CurrentClient { get; }

        /// <summary>How many clients are served at once at most: the server's slots (sessions, each with its own buffer).</summary>
        public int Slots => Options.Slots;

        /// <summary>Slots serving a client now.</summary>
        public abstract int SlotsBusy { get; }

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

        /// <summary>How many clients the kernel queues while every slot is busy.</summary>
        public int Backlog => Options.Backlog;

        /// <summary>The size of the echo buffer (one per session), in bytes.</summary>
        public int BufferSize => Options.BufferSize;

        /// <summary>Whether accepted sockets get TCP_NODELAY.</summary>
        public bool NoDelay => Options.NoDelay;

        /// <summary>The lock-down settings in one line: allowlist, timeouts, caps and rate limits.</summary>
        public string Limits => Options.DescribeLimits();

        /// <summary>The bound endpoint, for the engine and the cmdlets.</summary>
        internal IPEndPoint BoundEndPoint { get; private set; }

        /// <summary>The options the server runs with.</summary>
        internal EchoServerOptions Options { get; }

        /// <summary>The allowlist and the rate limits, applied to every accepted client.</summary>
        internal Admission Admission { get; }

        /// <summary>Whether a stop was requested.</summary>
        internal bool StopRequested => _stopRequested;

        /// <summary>When a stop gives up waiting for echo still in flight (a Stopwatch timestamp; long.MaxValue before a stop).</summary>
        internal long StopDeadline => Interlocked.Read(ref _stopDeadline);

        /// <summary>
        /// Binds and listens on the calling thread, so that a bad address or a busy port is reported here, then
        /// starts the server thread. Throws <see cref="EchoServerStartException"/> with nothing left open.
        /// </summary>
        public void Start()
        {
            if (_listener != null)
                throw new InvalidOperationException($"Server {Id} was started already.");

            _listener = EchoListener.Bind(Options);
            BoundEndPoint = _listener.LocalEndPoint;
            LocalEndPoint = BoundEndPoint.ToString();
            StartTime = DateTime.Now;
            _uptime.Start();
            _events = new ClientEventFolder(Id, LocalEndPoint, Options.EventRateLimit, _onEvent);
            Raise(EchoServerEvent.Listening(Id, LocalEndPoint, Options.DescribeSettings(", ")));

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

        /// <summary>Asks the server to stop without waiting; works from any thread.</summary>
        public void RequestStop()
        {
            lock (StopGate)
            {
                if (_stopRequested)
                    return;
                Interlocked.Exchange(ref _stopDeadline, Stopwatch.GetTimestamp() + SocketTimeouts.Ticks(StopGrace));
                _stopRequested = true;
                _stopSignal.Set();
                if (_state == EchoServerState.Listening || _state == EchoServerState.Serving)
                    _state = EchoServerState.Stopping;
                // What wakes the server thread: the model wakes its live connections without losing echo (see
                // EchoSession.CloseLingering), and shutting the listener down fails a blocked accept.
                WakeSessions();
                _listener?.Wake();
            }
        }

        /// <summary>Stops the server, waiting up to five seconds for its thread to end.</summary>
        public void Dispose()
        {
            Stop(TimeSpan.FromSeconds(5));
        }

        /// <summary>The model's accept strategy, on the server thread until a stop: accept clients, run their sessions.</summary>
        private protected abstract void Serve();

        /// <summary>
        /// Called under <see cref="StopGate"/> by a stop request, from any thread: wake every live connection (see
        /// <see cref="ClientConnection.WakeForStop"/>).
        /// </summary>
        private protected abstract void WakeSessions();

        /// <summary>Called under <see cref="StopGate"/> when the server thread ends: release what the model holds.</summary>
        private protected virtual void OnEnded()
        {
        }

        /// <summary>Sets the state as a model sees it (Listening, Serving), unless a stop has begun; under <see cref="StopGate"/>.</summary>
        private protected void SetServing(bool serving)
        {
            if (_state == EchoServerState.Listening || _state == EchoServerState.Serving)
                _state = serving ? EchoServerState.Serving : EchoServerState.Listening;
        }

        /// <summary>
        /// Clients waiting for a slot now (for the slot-hold limit): those in the listen backlog while every slot is
        /// busy; none while a slot is free (it accepts the next one).
        /// </summary>
        /// <param name="lingering">Asked by a session in its lingering close: it was taken off already (Detach comes
        /// first, so a stop no longer reaches it) but still keeps its slot from accepting.</param>
        internal int ClientsWaiting(bool lingering = false) =>
            SlotsBusy + (lingering ? 1 : 0) < Options.Slots ? 0 : _listener.ClientsWaiting();

        /// <summary>
        /// Takes a connection live: a stop reaches it from now on. False, with nothing taken, when stopping: the
        /// caller closes it.
        /// </summary>
        internal abstract bool Attach(ISessionConnection client, int slot);

        /// <summary>Ends a connection's live time: after this no other thread may reach it, so it may be closed.</summary>
        internal abstract void Detach(ISessionConnection client, int slot);

        // The session's view of its host (see ISessionHost): the members above, and the stop signal as a wait.
        EchoServerOptions ISessionHost.Options => Options;
        Admission ISessionHost.Admission => Admission;
        bool ISessionHost.Attach(ISessionConnection client, int slot) => Attach(client, slot);
        void ISessionHost.Detach(ISessionConnection client, int slot) => Detach(client, slot);
        bool ISessionHost.StopRequested => _stopRequested;
        long ISessionHost.StopDeadline => StopDeadline;
        bool ISessionHost.WaitForStop(TimeSpan time) => _stopSignal.WaitOne(time); // set by a stop request
        int ISessionHost.ClientsWaiting(bool lingering) => ClientsWaiting(lingering);
        void ISessionHost.CountReceived(int bytes) => CountReceived(bytes);
        void ISessionHost.CountEchoed(long bytes) => CountEchoed(bytes);
        void ISessionHost.Report(EchoServerEventKind kind, IPAddress address, int port, long received, long echoed,
            TimeSpan? duration, DisconnectReason? reason, string message) =>
            Report(kind, address, port, received, echoed, duration, reason, message);

        internal void CountReceived(int bytes) => Interlocked.Add(ref _bytesReceived, bytes);

        internal void CountEchoed(long bytes) => Interlocked.Add(ref _bytesEchoed, bytes);

        /// <summary>
        /// A client event (Connected, Disconnected, Rejected): counted, then passed on or folded by the
        /// <see cref="ClientEventFolder"/>, which builds an event object only for an event it passes on.
        /// </summary>
        internal void Report(EchoServerEventKind kind, IPAddress address, int port, long received = 0, long echoed = 0,
            TimeSpan? duration = null, DisconnectReason? reason = null, string message = null)
        {
            if (kind == EchoServerEventKind.Disconnected)
                Interlocked.Increment(ref _clientsServed);
            else if (kind == EchoServerEventKind.Rejected)
                Interlocked.Increment(ref _clientsRejected);
            try
            {
                _events.Post(kind, address, port, received, echoed, duration, reason, message);
            }
            catch
            {
                // A failing listener must not take the server (or the host process) down with it.
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

        /// <summary>
        /// Accepts the next client; null when stopping, when the listener's receive timeout (the idle timeout, on
        /// Linux) ran out with no client, or after a transient accept error (reported, then a short pause).
        /// </summary>
        private protected ClientConnection AcceptNext(AcceptSlot slot)
        {
            try
            {
                return _listener.Accept(slot);
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
                Raise(EchoServerEvent.Failure(Id, LocalEndPoint, ex));
                Thread.Sleep(100);
                return null;
            }
        }

        private void Run()
        {
            // An exception escaping this thread would kill the host process: everything is caught and reported.
            Exception failure = null;
            try
            {
                Serve();
            }
            catch (Exception ex)
            {
                failure = ex;
                Raise(EchoServerEvent.Failure(Id, LocalEndPoint, ex));
            }
            finally
            {
                lock (StopGate)
                {
                    _listener.Dispose();
                    OnEnded();
                    _state = failure == null ? EchoServerState.Stopped : EchoServerState.Failed;
                }
                _uptime.Stop();
                Raise(EchoServerEvent.Stopped(Id, LocalEndPoint, ClientsServed, BytesReceived, BytesEchoed, _uptime.Elapsed));
                _events.Dispose();
                _finished.Set();
            }
        }

        /// <summary>
        /// How long a stop waits for a connected client to receive echo still in flight before it forces the
        /// connection down (a client that has everything already costs no wait): stopping stays prompt.
        /// </summary>
        internal static readonly TimeSpan StopGrace = TimeSpan.FromMilliseconds(250);
    }
}
