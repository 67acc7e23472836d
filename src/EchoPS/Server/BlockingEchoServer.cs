using System;
using System.Runtime.ExceptionServices;
using System.Threading;
using EchoPS.Server.Sessions;

namespace EchoPS.Server
{
    /// <summary>
    /// A blocking TCP echo server with N slots (1 by default): each slot runs the same blocking loop on the one
    /// listener (accept a client, read and write the same bytes back until the client closes, close, accept again) on
    /// its own thread, with its own <see cref="EchoSession"/> (its own buffer). With one slot that loop runs on the
    /// server thread itself: the single-client baseline, accept4, recv, send, recv, close per small echo. Other
    /// clients wait in the listen backlog. Knows nothing of PowerShell.
    /// </summary>
    public sealed class BlockingEchoServer : EchoServer
    {
        private readonly Slot[] _slots;
        private int _busy; // slots with a live connection: changed under the stop gate
        private Timer _forceStop;
        private Exception _slotFailure;

        /// <summary>One slot: its session (buffer, timeouts), what it keeps between accepts, its live connection.</summary>
        private sealed class Slot
        {
            internal Slot(EchoSession session) => Session = session;
            internal readonly EchoSession Session;
            internal readonly AcceptSlot Accept = new AcceptSlot();
            internal ISessionConnection Client; // set and cleared under the stop gate
        }

        /// <summary>Creates a server; nothing is bound until <see cref="EchoServer.Start"/>.</summary>
        /// <param name="options">How to bind and serve; validated here.</param>
        /// <param name="onEvent">Called on a server thread for every event, one at a time; must not block for long.</param>
        public BlockingEchoServer(EchoServerOptions options, Action<EchoServerEvent> onEvent)
            : this(options, onEvent, NewId())
        {
        }

        /// <summary>Creates a server with an id the caller keeps unique (a host's own id space); nothing is bound until <see cref="EchoServer.Start"/>.</summary>
        /// <param name="options">How to bind and serve; validated here.</param>
        /// <param name="onEvent">Called on a server thread for every event, one at a time; must not block for long.</param>
        /// <param name="id">The server's id; the caller keeps it unique in this process.</param>
        public BlockingEchoServer(EchoServerOptions options, Action<EchoServerEvent> onEvent, int id)
            : base(options, onEvent, id)
        {
            _slots = new Slot[Options.Slots];
            for (int i = 0; i < _slots.Length; i++)
                _slots[i] = new Slot(new EchoSession(this, i));
        }

        /// <inheritdoc />
        public override string CurrentClient
        {
            get
            {
                string clients = null;
                foreach (var slot in _slots)
                {
                    var client = Volatile.Read(ref slot.Client);
                    if (client == null)
                        continue;
                    var endpoint = client.RemoteEndPoint.ToString();
                    clients = clients == null ? endpoint : clients + ", " + endpoint;
                }
                return clients;
            }
        }

        /// <inheritdoc />
        public override int SlotsBusy => Volatile.Read(ref _busy);

        private protected override void Serve()
        {
            if (_slots.Length == 1)
            {
                ServeSlot(_slots[0]); // the baseline: the server thread is the one slot
                return;
            }
            var threads = new Thread[_slots.Length - 1];
            for (int i = 0; i < threads.Length; i++)
            {
                var slot = _slots[i + 1];
                threads[i] = new Thread(() => RunSlot(slot)) { IsBackground = true, Name = $"EchoPS server {Id} slot {i + 2}" };
                threads[i].Start();
            }
            RunSlot(_slots[0]);
            foreach (var thread in threads)
                thread.Join();
            if (_slotFailure != null)
                ExceptionDispatchInfo.Capture(_slotFailure).Throw();
        }

        private void ServeSlot(Slot slot)
        {
            while (!StopRequested)
            {
                var client = AcceptNext(slot.Accept);
                if (client != null)
                    slot.Session.Run(client);
            }
        }

        // A slot on a thread of its own: an exception escaping it would kill the host process, so it is kept for the
        // server thread to report, and the whole server stops.
        private void RunSlot(Slot slot)
        {
            try
            {
                ServeSlot(slot);
            }
            catch (Exception ex)
            {
                Interlocked.CompareExchange(ref _slotFailure, ex, null);
                RequestStop();
            }
        }

        internal override bool Attach(ISessionConnection client, int slot)
        {
            lock (StopGate)
            {
                if (StopRequested)
                    return false;
                Volatile.Write(ref _slots[slot].Client, client);
                _busy++;
                SetServing(true);
            }
            return true;
        }

        internal override void Detach(ISessionConnection client, int slot)
        {
            // No other thread may reach the connection once it is closed (its descriptor number could be reused).
            lock (StopGate)
            {
                Volatile.Write(ref _slots[slot].Client, null);
                _busy--;
                SetServing(_busy > 0);
            }
        }

        private protected override void WakeSessions()
        {
            // Every connected client: at once when it has all its echo, else its sending side now and the rest after
            // StopGrace (see ClientConnection.WakeForStop).
            var pending = false;
            foreach (var slot in _slots)
            {
                if (slot.Client != null && !slot.Client.WakeForStop())
                    pending = true;
            }
            if (pending)
                _forceStop = new Timer(_ => ForceWakeClients(), null, StopGrace, Timeout.InfiniteTimeSpan);
        }

        private void ForceWakeClients()
        {
            lock (StopGate)
            {
                foreach (var slot in _slots)
                    slot.Client?.ForceWake();
            }
        }

        private protected override void OnEnded() => _forceStop?.Dispose();
    }
}
