using System;
using System.Net;
using System.Net.Sockets;
using EchoPS.Net;
using EchoPS.Server.Sessions;

namespace EchoPS.Server
{
    /// <summary>
    /// A server's listening socket: bind and listen, accept (accept4 into a bare descriptor on Linux, Socket.Accept
    /// elsewhere), how many clients wait in the backlog, and the wake-up a stop uses. Any server model accepts through
    /// it; only the server thread accepts and closes it.
    /// </summary>
    internal sealed class EchoListener : IDisposable
    {
        private readonly Socket _socket;
        private readonly int _descriptor = -1;
        private readonly EchoServerOptions _options;
        private volatile bool _closed;

        private EchoListener(Socket socket, EchoServerOptions options)
        {
            _socket = socket;
            _options = options;
            if (LinuxSocketCalls.Available)
                _descriptor = (int)socket.Handle;
            LocalEndPoint = (IPEndPoint)socket.LocalEndPoint;
        }

        /// <summary>The bound endpoint (the port the system chose when 0 was asked for).</summary>
        internal IPEndPoint LocalEndPoint { get; }

        /// <summary>
        /// Binds and listens on the calling thread. Throws <see cref="EchoServerStartException"/> with nothing left open.
        /// </summary>
        internal static EchoListener Bind(EchoServerOptions options)
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
                // no syscall per connection. (SO_RCVTIMEO also bounds accept itself: the server accepts again.)
                if (LinuxSocketCalls.Available)
                    ApplyClientOptions(socket, options);
                return new EchoListener(socket, options);
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

        /// <summary>
        /// Blocks in accept. Returns the client, or null when the listener's receive timeout (the idle timeout, on
        /// Linux) ran out with no client. Throws SocketException or ObjectDisposedException as accept fails.
        /// </summary>
        /// <param name="slot">The accepting slot's own state (address buffer, last address, spare connection): slots
        /// accept at once on their own threads, so nothing of an accept is shared between them.</param>
        internal ClientConnection Accept(AcceptSlot slot)
        {
            if (LinuxSocketCalls.Available)
            {
                int descriptor = LinuxSocketCalls.Accept(_descriptor, slot.Address);
                if (descriptor < 0)
                    return null;
                return slot.Spare = ClientConnection.FromDescriptor(descriptor, slot.Address, slot.LastAddress, slot.Spare);
            }
            var socket = _socket.Accept();
            ApplyClientOptions(socket, _options);
            return ClientConnection.FromSocket(socket);
        }

        /// <summary>The per-connection options: TCP_NODELAY and the idle and send timeouts as socket timeouts.</summary>
        private static void ApplyClientOptions(Socket socket, EchoServerOptions options)
        {
            socket.NoDelay = options.NoDelay;
            socket.ReceiveTimeout = SocketTimeouts.Milliseconds(options.IdleTimeout);
            socket.SendTimeout = SocketTimeouts.Milliseconds(options.SendTimeout);
        }

        /// <summary>Clients waiting in the listen backlog now: counted on Linux, otherwise 1 when any is (or 0).</summary>
        internal int ClientsWaiting()
        {
            try
            {
                var queued = LinuxTcpInfo.QueuedConnections(_socket);
                if (queued.HasValue)
                    return queued.Value;
                return _socket.Poll(0, SelectMode.SelectRead) ? 1 : 0;
            }
            catch (Exception ex) when (ex is SocketException || ex is ObjectDisposedException)
            {
                return 0; // the listener is closing: the server is stopping
            }
        }

        /// <summary>
        /// Wakes a blocked accept, from any thread, under the server's stop gate: on Linux a shutdown (only the server
        /// thread closes the descriptor, which could otherwise be reused under its next call), elsewhere a close.
        /// </summary>
        internal void Wake()
        {
            if (_closed)
                return;
            if (LinuxSocketCalls.Available)
                LinuxSocketCalls.Shutdown(_descriptor);
            else
                _socket.Dispose();
        }

        /// <summary>Closes the listener; the server thread's call, under the server's stop gate.</summary>
        public void Dispose()
        {
            _socket.Dispose();
            _closed = true;
        }
    }

    /// <summary>
    /// What one slot keeps between its accepts: the sockaddr buffer accept4 fills, the last client's address (reused
    /// for the next client from the same address) and the connection accepted last, reused once closed. A slot accepts
    /// only after its previous client's close, on its own thread, and a stop reaches a connection only while it is
    /// live (between Attach and Detach, under the stop gate), so reusing the object is safe per slot; no two slots
    /// ever share one.
    /// </summary>
    internal sealed class AcceptSlot
    {
        internal readonly byte[] Address = new byte[LinuxSocketCalls.AddressBufferSize];
        internal readonly LinuxSocketCalls.AddressCache LastAddress = new LinuxSocketCalls.AddressCache();
        internal ClientConnection Spare;
    }
}
