using System;
using System.Net;
using System.Threading;
using EchoPS.Server.Sessions;

namespace EchoPS.Server
{
    /// <summary>
    /// A blocking, single-client TCP echo server: one dedicated thread accepts a client, reads and writes the same
    /// bytes back until the client closes, closes, and only then accepts the next one. Other clients wait in the
    /// listen backlog. As a model it is the simplest accept strategy: one <see cref="EchoSession"/> (one buffer),
    /// run for each accepted client in turn on the server thread. Knows nothing of PowerShell.
    /// </summary>
    public sealed class BlockingEchoServer : EchoServer
    {
        private readonly EchoSession _session;
        private ClientConnection _client; // the live connection: set and cleared under the stop gate
        private Timer _forceStop;

        /// <summary>Creates a server; nothing is bound until <see cref="EchoServer.Start"/>.</summary>
        /// <param name="options">How to bind and serve; validated here.</param>
        /// <param name="onEvent">Called on the server's thread for every event; must not block for long.</param>
        public BlockingEchoServer(EchoServerOptions options, Action<EchoServerEvent> onEvent)
            : this(options, onEvent, NewId())
        {
        }

        /// <summary>Creates a server with an id the caller keeps unique (a host's own id space); nothing is bound until <see cref="EchoServer.Start"/>.</summary>
        /// <param name="options">How to bind and serve; validated here.</param>
        /// <param name="onEvent">Called on the server's thread for every event; must not block for long.</param>
        /// <param name="id">The server's id; the caller keeps it unique in this process.</param>
        public BlockingEchoServer(EchoServerOptions options, Action<EchoServerEvent> onEvent, int id)
            : base(options, onEvent, id)
        {
            _session = new EchoSession(this);
        }

        /// <inheritdoc />
        public override string CurrentClient => Volatile.Read(ref _client)?.RemoteEndPoint.ToString();

        private protected override void Serve()
        {
            while (!StopRequested)
            {
                var client = AcceptNext();
                if (client != null)
                    _session.Run(client);
            }
        }

        internal override bool Attach(ClientConnection client)
        {
            lock (StopGate)
            {
                if (StopRequested)
                    return false;
                Volatile.Write(ref _client, client);
                SetServing(true);
            }
            return true;
        }

        internal override void Detach(ClientConnection client)
        {
            // No other thread may reach the connection once it is closed (its descriptor number could be reused).
            lock (StopGate)
            {
                Volatile.Write(ref _client, null);
                SetServing(false);
            }
        }

        private protected override void WakeSessions()
        {
            // The one connected client, if any: at once when it has all its echo, else its sending side now and the
            // rest after StopGrace (see ClientConnection.WakeForStop).
            if (_client != null && !_client.WakeForStop())
                _forceStop = new Timer(_ => ForceWakeClient(), null, StopGrace, Timeout.InfiniteTimeSpan);
        }

        private void ForceWakeClient()
        {
            lock (StopGate)
                _client?.ForceWake();
        }

        private protected override void OnEnded() => _forceStop?.Dispose();
    }
}
